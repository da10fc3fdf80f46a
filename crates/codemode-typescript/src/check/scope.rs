//! Names: a name the program never declared and no global provides (`TS2304`), and an
//! assignment to a `const` (`TS2588`), from oxc's scope analysis.

use oxc::ast::AstKind;
use oxc::ast::ast::{Program, UnaryOperator};
use oxc::semantic::SemanticBuilder;
use oxc::span::GetSpan;

use crate::diagnostic::{Diagnostic, LineIndex};

/// What a program may use without declaring it: the sandbox's `tools` and `console`, its
/// timers, and the standard built-ins of ES2023 (as `tsc` knows them from its lib).
const GLOBALS: &[&str] = &[
    "tools",
    "console",
    "setTimeout",
    "clearTimeout",
    "setInterval",
    "clearInterval",
    "queueMicrotask",
    "globalThis",
    "undefined",
    "NaN",
    "Infinity",
    "eval",
    "isFinite",
    "isNaN",
    "parseFloat",
    "parseInt",
    "decodeURI",
    "decodeURIComponent",
    "encodeURI",
    "encodeURIComponent",
    "escape",
    "unescape",
    "Object",
    "Function",
    "Array",
    "Number",
    "Boolean",
    "String",
    "Symbol",
    "BigInt",
    "Math",
    "JSON",
    "Date",
    "RegExp",
    "Error",
    "AggregateError",
    "EvalError",
    "RangeError",
    "ReferenceError",
    "SyntaxError",
    "TypeError",
    "URIError",
    "Promise",
    "Map",
    "Set",
    "WeakMap",
    "WeakSet",
    "WeakRef",
    "FinalizationRegistry",
    "Proxy",
    "Reflect",
    "Intl",
    "ArrayBuffer",
    "SharedArrayBuffer",
    "DataView",
    "Atomics",
    "Int8Array",
    "Uint8Array",
    "Uint8ClampedArray",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "Float32Array",
    "Float64Array",
    "BigInt64Array",
    "BigUint64Array",
    "arguments",
    "structuredClone",
    "TextEncoder",
    "TextDecoder",
    "URL",
    "URLSearchParams",
    "atob",
    "btoa",
];

/// `TS2304` for names nobody declared, `TS2588` for assignments to a `const`.
pub(super) fn check_names(program: &Program<'_>, source: &str, index: &LineIndex) -> Vec<Diagnostic> {
    let semantic = SemanticBuilder::new().with_build_nodes(true).build(program).semantic;
    let scoping = semantic.scoping();
    let nodes = semantic.nodes();
    let mut out = Vec::new();
    let mut report = |node_id, code: &str, message: String| {
        let span = nodes.get_node(node_id).kind().span();
        let (line, column) = index.position(source, span.start as usize);
        out.push(Diagnostic::error(line, column, code, message));
    };
    for (name, references) in scoping.root_unresolved_references() {
        if GLOBALS.contains(&name.as_str()) {
            continue;
        }
        for id in references {
            let reference = scoping.get_reference(*id);
            // `typeof process` is how a program asks whether something exists.
            let in_typeof = matches!(
                nodes.parent_kind(reference.node_id()),
                AstKind::UnaryExpression(u) if u.operator == UnaryOperator::Typeof
            );
            if reference.is_type() || in_typeof {
                continue;
            }
            report(reference.node_id(), "TS2304", format!("Cannot find name '{name}'."));
        }
    }
    for symbol in scoping.symbol_ids() {
        if !scoping.symbol_flags(symbol).is_const_variable() {
            continue;
        }
        for reference in scoping.get_resolved_references(symbol).filter(|r| r.is_write()) {
            report(
                reference.node_id(),
                "TS2588",
                format!(
                    "Cannot assign to '{}' because it is a constant.",
                    scoping.symbol_name(symbol)
                ),
            );
        }
    }
    out
}
