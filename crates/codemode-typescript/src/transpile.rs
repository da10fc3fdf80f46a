//! TypeScript to JavaScript with oxc: types are stripped, modern syntax is kept, and a line
//! map leads from each generated line back to the line the model wrote.

use std::path::{Path, PathBuf};

use oxc::allocator::Allocator;
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::semantic::SemanticBuilder;
use oxc::transformer::{TransformOptions, Transformer};

use crate::diagnostic::{Diagnostic, LineIndex};
use crate::program::{parse, syntax_diagnostics};

/// The JavaScript target: everything up to ES2022 is kept as written.
const TARGET: &str = "es2022";

/// JavaScript produced from a program, with the way back to its TypeScript lines.
#[derive(Debug, Clone)]
pub struct Transpiled {
    /// The JavaScript: still a function body (top-level `await` and `return` kept).
    pub code: String,
    /// For each 0-based generated line, the 1-based line of the TypeScript it came from
    /// (0 when unknown).
    pub line_map: Vec<u32>,
}

impl Transpiled {
    /// The 1-based TypeScript line for a 1-based line of the generated JavaScript.
    ///
    /// A generated line without a mapping of its own takes the nearest mapped line above it.
    pub fn original_line(&self, generated_line: u32) -> Option<u32> {
        let idx = (generated_line as usize).checked_sub(1)?;
        self.line_map
            .get(..=idx.min(self.line_map.len().saturating_sub(1)))?
            .iter()
            .rev()
            .copied()
            .find(|&l| l != 0)
    }
}

/// Errors from [`transpile`].
#[derive(Debug, thiserror::Error)]
pub enum TranspileError {
    /// The program does not parse, or uses something a program cannot (imports).
    #[error("the program has {} syntax error(s); first: {}", .0.len(), .0.first().map(|d| d.render("program.ts")).unwrap_or_default())]
    Syntax(Vec<Diagnostic>),
    /// The transformer rejected the program.
    #[error("the TypeScript transform failed: {0}")]
    Transform(String),
}

/// Strips the types from a TypeScript program body.
pub fn transpile(source: &str) -> Result<Transpiled, TranspileError> {
    let allocator = Allocator::default();
    let ret = parse(&allocator, source);
    let diagnostics = syntax_diagnostics(&ret, source);
    if !diagnostics.is_empty() {
        return Err(TranspileError::Syntax(diagnostics));
    }
    let mut program = ret.program;
    let scoping = SemanticBuilder::new().build(&program).semantic.into_scoping();
    let options = TransformOptions::from_target(TARGET).map_err(TranspileError::Transform)?;
    let path = Path::new("program.ts");
    let result = Transformer::new(&allocator, path, &options).build_with_scoping(scoping, &mut program);
    if let Some(first) = result
        .diagnostics
        .iter()
        .find(|d| d.severity == oxc::diagnostics::Severity::Error)
    {
        return Err(TranspileError::Transform(first.message.to_string()));
    }
    let codegen = Codegen::new()
        .with_options(CodegenOptions {
            source_map_path: Some(PathBuf::from("program.ts")),
            ..CodegenOptions::default()
        })
        .build(&program);
    let generated_lines = LineIndex::new(&codegen.code).line_count();
    let mut line_map = vec![0u32; generated_lines];
    if let Some(map) = &codegen.map {
        for token in map.get_tokens() {
            let dst = token.get_dst_line() as usize;
            if let Some(slot) = line_map.get_mut(dst)
                && *slot == 0
            {
                *slot = token.get_src_line() + 1;
            }
        }
    }
    Ok(Transpiled {
        code: codegen.code,
        line_map,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_types_keeps_await_and_return() {
        let t = transpile("interface A { x: number }\nconst a: A = { x: 1 };\nconst r = await Promise.resolve(a.x as number);\nreturn r;\n").unwrap();
        assert!(!t.code.contains("interface"), "{}", t.code);
        assert!(!t.code.contains(": A"), "{}", t.code);
        assert!(t.code.contains("await Promise.resolve(a.x)"), "{}", t.code);
        assert!(t.code.contains("return r;"), "{}", t.code);
    }

    #[test]
    fn maps_lines_back() {
        let src = "type T = string;\n\n\nconst x: T = 'a';\nthrow new Error(x);\n";
        let t = transpile(src).unwrap();
        let throw_line = t.code.lines().position(|l| l.contains("throw")).unwrap() as u32 + 1;
        assert_eq!(t.original_line(throw_line), Some(5), "{}", t.code);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let Err(TranspileError::Syntax(d)) = transpile("const x = ;\n") else {
            panic!("expected syntax error")
        };
        assert_eq!((d[0].line, d[0].code.as_str()), (1, "SYNTAX"));
        let Err(TranspileError::Syntax(d)) = transpile("import fs from 'fs';\n") else {
            panic!("expected import error")
        };
        assert_eq!(d[0].code, "TS1208");
    }
}
