//! The program shape shared by `implement`, `exec` and `check`: a program is the body of
//! an async function. Top-level `await` and `return` are allowed; a program that declares
//! `main()` without calling it gets `return await main();` appended (after the last line,
//! so line numbers do not move), and so does a program that is nothing but one function
//! declaration, whatever its name. Top-level `declare` statements (models paste the
//! declarations they were given back into their program) are blanked out: they do nothing
//! at run time, and the checker already has the real declarations.

use oxc::allocator::Allocator;
use oxc::ast::ast::{Expression, Program, Statement};
use oxc::ast_visit::{Visit, walk};
use oxc::parser::{ParseOptions, Parser, ParserReturn};
use oxc::span::SourceType;

use crate::diagnostic::{Diagnostic, LineIndex};

/// A program ready to check or transpile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreparedProgram {
    /// The program text, with the call to `main()` appended when needed.
    pub text: String,
    /// True when `return await main();` (or the call of the program's one function) was
    /// appended.
    pub calls_main: bool,
    /// How many top-level `declare` statements were blanked out (replaced by spaces, line
    /// breaks kept, so the lines of everything else stay where they were).
    pub stripped_declarations: usize,
}

/// Parses `source` as a program body (TypeScript, module, `return` allowed at the top).
pub(crate) fn parse<'a>(allocator: &'a Allocator, source: &'a str) -> ParserReturn<'a> {
    let options = ParseOptions {
        allow_return_outside_function: true,
        ..ParseOptions::default()
    };
    Parser::new(allocator, source, SourceType::ts().with_module(true))
        .with_options(options)
        .parse()
}

/// Syntax errors of a parse, and import/export statements (which a program cannot use),
/// as diagnostics.
pub(crate) fn syntax_diagnostics(ret: &ParserReturn<'_>, source: &str) -> Vec<Diagnostic> {
    let index = LineIndex::new(source);
    let mut out: Vec<Diagnostic> = ret
        .diagnostics
        .iter()
        .map(|d| {
            let offset = d.labels.first().map_or(0, |l| l.offset() as usize);
            let (line, column) = index.position(source, offset);
            let mut message = d.message.to_string();
            if let Some(help) = &d.help {
                message.push_str(&format!(" ({help})"));
            }
            Diagnostic::error(line, column, "SYNTAX", message)
        })
        .collect();
    if !ret.panicked {
        for stmt in &ret.program.body {
            if let Some((code, message)) = shape_violation(stmt) {
                let (line, column) = index.position(source, span_start(stmt));
                out.push(Diagnostic::error(line, column, code, message));
            }
        }
    }
    out
}

/// The program shape violations of `source` (imports and exports, a program declaring its
/// own `tools` or `console`, `declare` statements, a program with nothing to run), without
/// its syntax errors. Checked
/// before any type checker runs, so that every checker reports them the same way.
pub fn shape_diagnostics(source: &str) -> Vec<Diagnostic> {
    let allocator = Allocator::default();
    let ret = parse(&allocator, source);
    if ret.panicked {
        return Vec::new();
    }
    let index = LineIndex::new(source);
    let mut found: Vec<Diagnostic> = ret
        .program
        .body
        .iter()
        .filter_map(|stmt| {
            let (code, message) = shape_violation(stmt)?;
            let (line, column) = index.position(source, span_start(stmt));
            Some(Diagnostic::error(line, column, code, message))
        })
        .collect();
    if found.is_empty() && !ret.program.body.iter().any(runs) {
        found.push(Diagnostic::error(1, 1, "EMPTY", NOTHING_TO_RUN));
    }
    found
}

/// Why a program with nothing to run is refused (seen: the 1.5B model answering a repair
/// with the declarations alone, which type-checked and "succeeded" without a tool call).
const NOTHING_TO_RUN: &str = "the program has no statement that runs (only types, declarations or comments): write \
     the steps that call the tools, e.g. `await tools.namespace.tool({ ... })`; the declarations are already loaded";

/// Whether a top-level statement does anything at run time: not a type, an interface, a
/// `declare` or an empty statement.
fn runs(stmt: &Statement<'_>) -> bool {
    !matches!(
        stmt,
        Statement::TSTypeAliasDeclaration(_) | Statement::TSInterfaceDeclaration(_) | Statement::EmptyStatement(_)
    ) && !is_declare(stmt)
}

/// The names the sandbox gives every program; a program that declares its own (seen: a
/// model mocking `tools` with fake data) fails at run time or calls nothing real.
const PROVIDED: [&str; 2] = ["tools", "console"];

/// What is wrong with a top-level statement under the program shape rules, if anything:
/// imports and exports, declaring `tools` or `console`, and `declare` statements (a model
/// pasting the declarations it was given back into its program).
fn shape_violation(stmt: &Statement<'_>) -> Option<(&'static str, String)> {
    if stmt.is_module_declaration() {
        return Some((
            "TS1208",
            "import and export are not available in a codemode program: call tools through the global `tools` object"
                .into(),
        ));
    }
    let names: Vec<&str> = match stmt {
        Statement::VariableDeclaration(v) => v
            .declarations
            .iter()
            .filter_map(|d| d.id.get_identifier_name().map(|n| n.as_str()))
            .collect(),
        Statement::FunctionDeclaration(f) => f.id.iter().map(|id| id.name.as_str()).collect(),
        Statement::ClassDeclaration(c) => c.id.iter().map(|id| id.name.as_str()).collect(),
        _ => Vec::new(),
    };
    let declared = is_declare(stmt);
    if let Some(name) = names.iter().find(|n| PROVIDED.contains(n)) {
        return Some((
            "TS2451",
            format!(
                "the program declares its own `{name}`: the sandbox already provides `{name}` (for tools, with the declared API); \
                 remove this declaration and call the real one, e.g. `await tools.namespace.tool({{ ... }})`"
            ),
        ));
    }
    if declared {
        return Some((
            "TS1184",
            "`declare` is not needed in a program: the tool declarations are already loaded; write only the program that \
             uses them"
                .into(),
        ));
    }
    None
}

fn span_start(stmt: &Statement<'_>) -> usize {
    use oxc::span::GetSpan;
    stmt.span().start as usize
}

/// Applies the program shape rules to `source`.
pub fn prepare_program(source: &str) -> PreparedProgram {
    let redeclared = undo_redeclarations(source);
    let source = redeclared.as_deref().unwrap_or(source);
    let allocator = Allocator::default();
    let ret = parse(&allocator, source);
    let declares = declare_spans(&ret);
    // The one parse serves unless `declare` statements were blanked out.
    let (mut text, entry) = if declares.is_empty() {
        (source.to_string(), uncalled_entry_of(&ret))
    } else {
        let text = blank_out(source, &declares);
        let allocator = Allocator::default();
        let entry = uncalled_entry_of(&parse(&allocator, &text));
        (text, entry)
    };
    if let Some(name) = &entry {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&format!("return await {name}();\n"));
    }
    PreparedProgram {
        text,
        calls_main: entry.is_some(),
        stripped_declarations: declares.len(),
    }
}

/// `source` without its top-level re-declarations (`const x = ...;` a second time, which
/// JavaScript refuses outright), or `None` when it has none. Small models write them when a
/// repair splices a line that copies an earlier one. A repeat of the same statement, word
/// for word, is blanked out; a variable declared twice with different values becomes one
/// `let` assigned twice (the keyword of the first becomes `let`, that of the second
/// spaces), which is what the program meant in the order it wrote it. Every edit keeps the
/// text's length and lines, so positions in diagnostics stay true.
fn undo_redeclarations(source: &str) -> Option<String> {
    use oxc::ast::ast::{BindingPattern, VariableDeclarationKind};
    use oxc::span::GetSpan;
    let allocator = Allocator::default();
    let ret = parse(&allocator, source);
    if ret.panicked || !ret.diagnostics.is_empty() {
        return None;
    }
    // The first declaration of each name: its statement's text and its keyword's start.
    let mut first: std::collections::HashMap<&str, (&str, usize, VariableDeclarationKind)> =
        std::collections::HashMap::new();
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for stmt in &ret.program.body {
        let Statement::VariableDeclaration(decl) = stmt else {
            continue;
        };
        if decl.declare || decl.kind == VariableDeclarationKind::Var || decl.declarations.len() != 1 {
            continue;
        }
        let start = decl.span.start as usize;
        let text = &source[start..decl.span.end as usize];
        let declarator = &decl.declarations[0];
        let name = match &declarator.id {
            BindingPattern::BindingIdentifier(id) => id.name.as_str(),
            // A destructuring declared twice is only undone when it is the same statement.
            other => {
                let pattern = &source[other.span().start as usize..other.span().end as usize];
                if first.get(pattern).is_some_and(|(t, _, _)| *t == text) {
                    edits.push((start, start + text.len(), blank(text)));
                } else {
                    first.entry(pattern).or_insert((text, start, decl.kind));
                }
                continue;
            }
        };
        let Some(&(earlier, earlier_start, earlier_kind)) = first.get(name) else {
            first.insert(name, (text, start, decl.kind));
            continue;
        };
        if earlier == text {
            edits.push((start, start + text.len(), blank(text)));
            continue;
        }
        let keyword = match decl.kind {
            VariableDeclarationKind::Const => "const",
            _ => "let",
        };
        if !text.starts_with(keyword) || declarator.init.is_none() {
            continue;
        }
        if earlier_kind == VariableDeclarationKind::Const && source[earlier_start..].starts_with("const") {
            edits.push((earlier_start, earlier_start + 5, "let  ".into()));
            first.insert(name, (earlier, earlier_start, VariableDeclarationKind::Let));
        }
        edits.push((start, start + keyword.len(), " ".repeat(keyword.len())));
    }
    if edits.is_empty() {
        return None;
    }
    edits.sort_by_key(|(start, _, _)| *start);
    edits.dedup_by_key(|(start, _, _)| *start);
    let mut text = String::with_capacity(source.len());
    let mut at = 0;
    for (start, end, replacement) in edits {
        if start < at {
            continue;
        }
        text.push_str(&source[at..start]);
        text.push_str(&replacement);
        at = end;
    }
    text.push_str(&source[at..]);
    Some(text)
}

/// `text` as spaces, its line breaks kept.
fn blank(text: &str) -> String {
    text.chars().map(|c| if c == '\n' { '\n' } else { ' ' }).collect()
}

fn uncalled_entry_of(ret: &ParserReturn<'_>) -> Option<String> {
    if ret.panicked {
        None
    } else {
        uncalled_entry(&ret.program)
    }
}

/// The byte ranges of the top-level `declare` statements. A `declare` that names `tools` or
/// `console` is among them: it is the pasted declaration of what the sandbox provides, not
/// a mock (a mock has a value, and is refused).
fn declare_spans(ret: &ParserReturn<'_>) -> Vec<(usize, usize)> {
    use oxc::span::GetSpan;
    if ret.panicked {
        return Vec::new();
    }
    ret.program
        .body
        .iter()
        .filter(|stmt| is_declare(stmt))
        .map(|stmt| (stmt.span().start as usize, stmt.span().end as usize))
        .collect()
}

/// `source` with the `spans` replaced by spaces, line breaks kept.
fn blank_out(source: &str, spans: &[(usize, usize)]) -> String {
    let mut text = String::with_capacity(source.len());
    let mut at = 0;
    for &(start, end) in spans {
        text.push_str(&source[at..start]);
        text.extend(source[start..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
        at = end;
    }
    text.push_str(&source[at..]);
    text
}

/// A top-level `declare ...` statement (ambient: no value at run time).
fn is_declare(stmt: &Statement<'_>) -> bool {
    match stmt {
        Statement::VariableDeclaration(v) => v.declare,
        Statement::FunctionDeclaration(f) => f.declare,
        Statement::ClassDeclaration(c) => c.declare,
        Statement::TSNamespaceDeclaration(m) => m.declare,
        Statement::TSExternalModuleDeclaration(m) => m.declare,
        Statement::TSGlobalDeclaration(m) => m.declare,
        Statement::TSEnumDeclaration(e) => e.declare,
        _ => false,
    }
}

/// The function the program declares as its work and never calls: `main`, or, when the
/// program is nothing but declarations, its one function whatever its name (seen: a model
/// wrapping everything in `async function list_unread_emails_and_close_bugs()`).
fn uncalled_entry(program: &Program<'_>) -> Option<String> {
    let functions: Vec<&str> = program
        .body
        .iter()
        .filter_map(|s| match s {
            Statement::FunctionDeclaration(f) => f.id.as_ref().map(|id| id.name.as_str()),
            _ => None,
        })
        .collect();
    let only_declarations = program.body.iter().all(|s| {
        matches!(
            s,
            Statement::FunctionDeclaration(_)
                | Statement::TSTypeAliasDeclaration(_)
                | Statement::TSInterfaceDeclaration(_)
        )
    });
    let name = if functions.contains(&"main") {
        "main"
    } else if only_declarations && functions.len() == 1 {
        functions[0]
    } else {
        return None;
    };
    let mut finder = CallFinder { name, found: false };
    finder.visit_program(program);
    (!finder.found).then(|| name.to_string())
}

/// Finds any use of the function `name`.
struct CallFinder<'n> {
    name: &'n str,
    found: bool,
}

impl<'a> Visit<'a> for CallFinder<'_> {
    fn visit_call_expression(&mut self, it: &oxc::ast::ast::CallExpression<'a>) {
        if let Expression::Identifier(id) = &it.callee
            && id.name == self.name
        {
            self.found = true;
        }
        walk::walk_call_expression(self, it);
    }

    fn visit_identifier_reference(&mut self, it: &oxc::ast::ast::IdentifierReference<'a>) {
        // `main().then(...)`, `await main`, `main.call()` and the like count as using it.
        if it.name == self.name {
            self.found = true;
        }
    }
}

#[cfg(test)]
mod tests;
