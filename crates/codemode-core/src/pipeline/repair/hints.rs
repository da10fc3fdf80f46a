//! What explains a failed check to the model that repairs it: the diagnostics quoted with
//! their lines, the built-in checker's words next to another checker's, the properties of an
//! object passed for a plain value.

use codemode_typescript::{Diagnostic, prepare_program};

use codemode_traits::{CheckContext, TypeChecker};

/// What explains `diagnostics` of `code` to whoever fixes it: the built-in checker's words,
/// the properties of an object passed for a plain value.
pub(in crate::pipeline) async fn repair_hints(
    checker: &dyn TypeChecker,
    code: &str,
    context: CheckContext<'_>,
    diagnostics: &[Diagnostic],
) -> Vec<Diagnostic> {
    let mut hints = builtin_hints(checker, code, context).await;
    hints.extend(object_for_value_hints(diagnostics, context.declarations));
    hints
}

/// What the built-in checker says about `code` when another checker ran. Its messages
/// name the tool and the properties its result has ("Its list is the property 'emails'"),
/// where tsc says only that a property does not exist on a long type: a small model given
/// tsc's words alone sent the same program back four times (eval, issue 13).
async fn builtin_hints(checker: &dyn TypeChecker, code: &str, context: CheckContext<'_>) -> Vec<Diagnostic> {
    if checker.name() == codemode_typescript::BUILTIN_CHECKER_NAME {
        return Vec::new();
    }
    let prepared = prepare_program(code);
    codemode_typescript::BuiltinTypeChecker
        .check(&prepared.text, context)
        .await
        .unwrap_or_default()
}

/// For tsc's "Type 'X' is not assignable to type 'string'" where `X` is an object type of
/// the declarations: which properties `X` has, so the model passes one of them (seen: the
/// 1.5B model passed `{ channel }`, a whole channel, where the channel's name was wanted, and
/// did not understand tsc's words through two repairs).
fn object_for_value_hints(diagnostics: &[Diagnostic], declarations: &str) -> Vec<Diagnostic> {
    diagnostics
        .iter()
        .filter(|d| d.code == "TS2322" || d.code == "TS2345")
        .filter_map(|d| {
            let rest = d.message.strip_prefix("Type '")?;
            let (name, rest) = rest.split_once('\'')?;
            let wanted = rest.strip_prefix(" is not assignable to type '")?.split_once('\'')?.0;
            if !matches!(wanted, "string" | "number" | "boolean") {
                return None;
            }
            let properties = object_properties(declarations, name)?;
            let mut hint = d.clone();
            hint.message = format!(
                "'{name}' is an object with the properties {}; pass one of them (e.g. `.{}`), not the whole object.",
                properties.join(", "),
                properties[0]
            );
            Some(hint)
        })
        .collect()
}

/// The property names of `type NAME = { ... };` in generated declarations.
fn object_properties(declarations: &str, name: &str) -> Option<Vec<String>> {
    let opening = format!("type {name} = {{");
    let mut lines = declarations.lines().skip_while(|l| l.trim_start() != opening);
    lines.next()?;
    let properties: Vec<String> = lines
        .take_while(|l| l.trim_start() != "};")
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| {
            let (key, _) = l.trim().split_once(':')?;
            let key = key.trim_end_matches('?');
            key.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '$')
                .then(|| key.to_string())
        })
        .collect();
    (!properties.is_empty()).then_some(properties)
}

/// Each diagnostic as `program.ts:L:C: CODE message`, followed by the line it points at
/// and, when the built-in checker explains the same error on that line in other words, its
/// explanation as a hint.
pub(in crate::pipeline) fn quote_diagnostics(diagnostics: &[Diagnostic], hints: &[Diagnostic], code: &str) -> String {
    describe_diagnostics(diagnostics, hints, Some(code))
}

/// [`quote_diagnostics`], quoting the lines of `code` when given.
pub(in crate::pipeline) fn describe_diagnostics(
    diagnostics: &[Diagnostic],
    hints: &[Diagnostic],
    code: Option<&str>,
) -> String {
    let lines: Vec<&str> = code.map(|c| c.lines().collect()).unwrap_or_default();
    let mut used = vec![false; hints.len()];
    let mut out = Vec::new();
    for d in diagnostics {
        out.push(d.render("program.ts"));
        if let Some(text) = (d.line as usize).checked_sub(1).and_then(|i| lines.get(i)) {
            out.push(format!("    {} | {}", d.line, text.trim_end()));
        }
        let hint = hints
            .iter()
            .enumerate()
            .find(|(i, h)| !used[*i] && h.line == d.line && h.code == d.code && h.message != d.message);
        if let Some((i, h)) = hint {
            used[i] = true;
            out.push(format!("    hint: {}", h.message));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLARATIONS: &str = "type WorkspaceListChannelsOutputChannel = {\n  /** Channel name, e.g. `general`. */\n  name: string;\n  /** What it is about. */\n  topic?: string;\n};\ntype Other = {\n  id: number;\n};\n";

    #[test]
    fn an_object_passed_for_a_string_gets_its_properties_named() {
        let tsc = Diagnostic::error(
            7,
            40,
            "TS2322",
            "Type 'WorkspaceListChannelsOutputChannel' is not assignable to type 'string'.",
        );
        let hints = object_for_value_hints(std::slice::from_ref(&tsc), DECLARATIONS);
        assert_eq!(hints.len(), 1);
        assert_eq!(
            hints[0].message,
            "'WorkspaceListChannelsOutputChannel' is an object with the properties name, topic; pass one of them (e.g. `.name`), not the whole object."
        );
        let quoted = quote_diagnostics(&[tsc], &hints, "\n\n\n\n\n\n  await tools.w.send({ channel });\n");
        assert!(quoted.ends_with("\n    hint: 'WorkspaceListChannelsOutputChannel' is an object with the properties name, topic; pass one of them (e.g. `.name`), not the whole object."), "{quoted}");
        // Not for other messages, unknown types, or object targets.
        for message in [
            "Type 'Nope' is not assignable to type 'string'.",
            "Type 'Other' is not assignable to type 'Thing'.",
            "Property 'x' does not exist on type 'Other'.",
        ] {
            let d = Diagnostic::error(1, 1, "TS2322", message);
            assert!(object_for_value_hints(&[d], DECLARATIONS).is_empty(), "{message}");
        }
    }
}
