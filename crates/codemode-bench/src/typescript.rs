//! Declarations, transpiling and checking: the built-in checker against tsc, on LiveMCPBench
//! tools.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};
use codemode::typescript::{BuiltinChecker, ToolSignature, TscChecker, generate_declarations, transpile};
use serde_json::Value;

use crate::{Row, measure, ms, root, shared_tools};

/// (path, tool) for every LiveMCPBench tool.
fn livemcpbench(path: &Path) -> Result<Vec<(String, Value)>> {
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    let mut out = Vec::new();
    for server in data.as_array().context("tools.json is a list")? {
        for (name, entry) in server["tools"].as_object().context("tools")? {
            for tool in entry["tools"].as_array().context("tools list")? {
                let tool_name = tool["name"].as_str().unwrap_or_default();
                out.push((
                    format!(
                        "{}.{}",
                        codemode::typescript::ident::sanitize_identifier(name),
                        codemode::typescript::ident::sanitize_identifier(tool_name)
                    ),
                    tool.clone(),
                ));
            }
        }
    }
    Ok(out)
}

pub(crate) fn typescript_benches(rows: &mut Vec<Row>) -> Result<()> {
    let tools_path = shared_tools()?;
    let tools = livemcpbench(&tools_path)?;
    let sigs: Vec<ToolSignature<'_>> = tools
        .iter()
        .map(|(p, t)| ToolSignature {
            path: p,
            description: t["description"].as_str(),
            input_schema: &t["inputSchema"],
            output_schema: t.get("outputSchema").filter(|o| !o.is_null()),
            output_learned_from: None,
        })
        .collect();
    let ours = measure(30, || {
        std::hint::black_box(generate_declarations(&sigs));
    });
    let peer = Command::new("node")
        .arg(root().join("benches/js/json_schema_to_typescript.mjs"))
        .arg(&tools_path)
        .arg("5")
        .output();
    let peer_ms = peer
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| v["median_ms"].as_f64());
    rows.push(Row {
        name: "declarations, 527 LiveMCPBench tools".into(),
        median: ours,
        note: match peer_ms {
            Some(p) => format!("npm json-schema-to-typescript {p:.1} ms: {:.0}x faster", p / ms(ours)),
            None => "npm peer not installed (cargo xtask npm)".into(),
        },
    });

    let mut program = String::new();
    for i in 0..40 {
        program.push_str(&format!(
            "interface Item{i} {{ id: number; name: string }}\nconst items{i}: Item{i}[] = [{{ id: {i}, name: 'n' }}];\nconst total{i} = items{i}.reduce((a: number, b: Item{i}) => a + b.id, 0) as number;\nif (total{i} > 100) {{ console.log(`big ${{total{i}}}`); }}\nawait Promise.resolve(total{i});\n"
        ));
    }
    program.push_str("return 1;\n");
    let lines = program.lines().count();
    let transpiled = measure(50, || {
        std::hint::black_box(transpile(&program).ok());
    });
    rows.push(Row {
        name: format!("transpile a {lines}-line program (oxc)"),
        median: transpiled,
        note: String::new(),
    });

    let check_tools = &sigs[..sigs.len().min(60)];
    let decls = generate_declarations(check_tools).text;
    let call_program: String = tools[..check_tools.len()]
        .iter()
        .take(20)
        .map(|(p, _)| format!("try {{ await tools.{p}({{}} as any); }} catch (e) {{}}\n"))
        .collect();
    let builtin = measure(50, || {
        std::hint::black_box(BuiltinChecker::new(check_tools).check(&call_program));
    });
    rows.push(Row {
        name: "check, built-in (oxc), 60 tools".into(),
        median: builtin,
        note: String::new(),
    });
    let tsc_path = root().join("tests/npm/node_modules/.bin/tsc");
    match TscChecker::from_path(&tsc_path) {
        Ok(tsc) => {
            // Each check gets a program the compiler has not seen (a counter in a comment).
            let mut n = 0u32;
            let mut next_program = || {
                n += 1;
                format!("// check {n}\n{call_program}")
            };
            let cold_tsc = tsc.clone().cold();
            let cold = measure(10, || {
                std::hint::black_box(cold_tsc.check(&next_program(), &decls).ok());
            });
            rows.push(Row {
                name: format!("check, {} cold process, 60 tools", tsc.name()),
                median: cold,
                note: format!("{:.0}x the built-in checker", ms(cold) / ms(builtin)),
            });
            // The first warm check starts the server; it is not part of the median.
            let first = std::time::Instant::now();
            std::hint::black_box(tsc.check(&next_program(), &decls).ok());
            let first = first.elapsed();
            let warm = measure(50, || {
                std::hint::black_box(tsc.check(&next_program(), &decls).ok());
            });
            rows.push(Row {
                name: format!("check, {} warm (--lsp), 60 tools", tsc.name()),
                median: warm,
                note: format!(
                    "{:.1}x faster than cold; {:.0}x the built-in checker; first check (server start) {:.1} ms",
                    ms(cold) / ms(warm),
                    ms(warm) / ms(builtin),
                    ms(first)
                ),
            });
        }
        Err(e) => rows.push(Row {
            name: "check, tsc".into(),
            median: Duration::ZERO,
            note: format!("skipped: {e}"),
        }),
    }
    Ok(())
}
