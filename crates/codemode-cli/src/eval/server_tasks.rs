//! The real-server suite's fixtures and tasks. Each task is judged by the state its run
//! leaves in the fixture (files, commits, rows, the knowledge graph) or by the value the
//! program returns, never by the run's own verdict.

use serde_json::Value;

use super::servers::Fixture;
use super::tasks::ensure;

/// What a task checks: the fixture after the run and the program's output. `Err` says what
/// is wrong.
pub type Check = fn(&Fixture, &Value) -> Result<(), String>;

/// One task of the real-server suite.
pub struct ServerTask {
    /// A short, stable id (`--tasks` picks by it).
    pub id: &'static str,
    /// The kind of work: `single`, `chain` (two servers), `loop`, `question`.
    pub kind: &'static str,
    /// The request, as a user would type it; `{dir}` and `{url}` are filled in.
    pub query: &'static str,
    /// Judges the outcome.
    pub check: Check,
}

/// Every task of the suite, in the order the eval runs them.
pub const SERVER_TASKS: &[ServerTask] = &[
    ServerTask {
        id: "fs-write",
        kind: "single",
        query: "Create a file {dir}/hello.txt containing the text 'Hello from codemode'.",
        check: |f, _| file_says(f, "hello.txt", "hello from codemode"),
    },
    ServerTask {
        id: "fs-fix-typo",
        kind: "single",
        query: "In the file {dir}/docs/intro.md, replace the word 'teh' with 'the'.",
        check: |f, _| {
            let text = f.read("docs/intro.md")?;
            ensure(
                text.contains("Welcome to the project.") && !text.contains("teh"),
                format!("docs/intro.md reads {text:?}"),
            )?;
            ensure(text.contains("# Introduction"), "the rest of docs/intro.md was lost")
        },
    },
    ServerTask {
        id: "fs-rename",
        kind: "single",
        query: "Rename {dir}/draft.md to {dir}/plan.md.",
        check: |f, _| {
            ensure(!f.path("draft.md").exists(), "draft.md is still there")?;
            file_says(f, "plan.md", "ship the new editor")
        },
    },
    ServerTask {
        id: "fs-count-md",
        kind: "question",
        query: "How many Markdown (.md) files are directly in the folder {dir}/docs?",
        check: |_, out| expect_number(out, 3.0),
    },
    ServerTask {
        id: "fs-sum-csv",
        kind: "question",
        query: "What is the total of the amount column in {dir}/data/sales.csv?",
        check: |_, out| expect_number(out, 450.0),
    },
    ServerTask {
        id: "fs-archive",
        kind: "chain",
        query: "Create a folder {dir}/archive and move {dir}/todo.txt into it.",
        check: |f, _| {
            ensure(!f.path("todo.txt").exists(), "todo.txt is still in the folder")?;
            file_says(f, "archive/todo.txt", "water the plants")
        },
    },
    ServerTask {
        id: "git-changed",
        kind: "question",
        query: "Which files in the git repository {dir}/repo have changes that are not committed?",
        check: |_, out| {
            let text = answer_text(out);
            ensure(
                text.contains("readme.md") && text.contains("notes.txt"),
                format!("the answer does not name README.md and notes.txt: {text}"),
            )?;
            ensure(
                !text.contains("widget.py") && !text.contains("license"),
                format!("the answer names committed files: {text}"),
            )
        },
    },
    ServerTask {
        id: "git-commit",
        kind: "chain",
        query: "Commit all changes in the git repository {dir}/repo, including new files, with the message 'Update the readme and add notes'.",
        check: |f, _| {
            let subject = f.git(&["log", "-1", "--format=%s"]).map_err(|e| e.to_string())?;
            ensure(
                subject.trim() == "Update the readme and add notes",
                format!("the last commit is {:?}", subject.trim()),
            )?;
            let status = f.git(&["status", "--porcelain"]).map_err(|e| e.to_string())?;
            ensure(
                status.trim().is_empty(),
                format!("still uncommitted: {}", status.trim()),
            )
        },
    },
    ServerTask {
        id: "git-branch",
        kind: "single",
        query: "Create a branch named 'release-2.5' in the git repository {dir}/repo.",
        check: |f, _| {
            let branches = f
                .git(&["branch", "--format=%(refname:short)"])
                .map_err(|e| e.to_string())?;
            ensure(
                branches.lines().any(|b| b.trim() == "release-2.5"),
                format!("the branches are {:?}", branches.lines().collect::<Vec<_>>()),
            )
        },
    },
    ServerTask {
        id: "git-count",
        kind: "question",
        query: "How many commits does the git repository {dir}/repo have?",
        check: |_, out| expect_number(out, 3.0),
    },
    ServerTask {
        id: "git-author",
        kind: "question",
        query: "Who is the author of the most recent commit in the git repository {dir}/repo?",
        check: |_, out| expect_words(out, &["lena"], &["omar", "dana"]),
    },
    ServerTask {
        id: "sql-berlin",
        kind: "question",
        query: "How many customers in the shop database live in Berlin?",
        check: |_, out| expect_number(out, 2.0),
    },
    ServerTask {
        id: "sql-priciest",
        kind: "question",
        query: "Which product in the shop database has the highest price?",
        check: |_, out| expect_words(out, &["desk chair"], &["notebook", "stapler"]),
    },
    ServerTask {
        id: "sql-insert",
        kind: "single",
        query: "Add a product named 'Desk Lamp' with the price 25 and a stock of 10 to the shop database.",
        check: |f, _| {
            let rows = sql(f, "SELECT price, stock FROM products WHERE name = 'Desk Lamp'")?;
            ensure(rows.len() == 1, format!("{} products are named Desk Lamp", rows.len()))?;
            ensure(
                rows[0][0].as_f64() == Some(25.0) && rows[0][1].as_i64() == Some(10),
                format!("Desk Lamp has price and stock {:?}", rows[0]),
            )?;
            ensure(sql(f, "SELECT id FROM products")?.len() == 5, "other products changed")
        },
    },
    ServerTask {
        id: "sql-ship",
        kind: "single",
        query: "In the shop database, mark order 3 as shipped.",
        check: |f, _| {
            let statuses = sql(f, "SELECT id, status FROM orders ORDER BY id")?;
            let expected = ["shipped", "pending", "shipped", "pending", "shipped"];
            let got: Vec<&str> = statuses.iter().map(|r| r[1].as_str().unwrap_or("?")).collect();
            ensure(got == expected, format!("the orders' statuses are {got:?}"))
        },
    },
    ServerTask {
        id: "sql-restock",
        kind: "loop",
        query: "In the shop database, set the stock of every product that has fewer than 20 in stock to 50.",
        check: |f, _| {
            let stock = sql(f, "SELECT id, stock FROM products ORDER BY id")?;
            let got: Vec<i64> = stock.iter().map(|r| r[1].as_i64().unwrap_or(-1)).collect();
            ensure(got == [120, 50, 40, 50], format!("the stocks are {got:?}"))
        },
    },
    ServerTask {
        id: "sql-to-file",
        kind: "chain",
        query: "Write the names of the customers in the shop database who live in Berlin to the file {dir}/berlin.txt, one name per line.",
        check: |f, _| {
            let text = f.read("berlin.txt")?;
            let names: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            ensure(
                names.len() == 2 && names.contains(&"Hanna Berg") && names.contains(&"Jonas Weber"),
                format!("berlin.txt reads {text:?}"),
            )
        },
    },
    ServerTask {
        id: "mem-add",
        kind: "single",
        query: "Record in the knowledge graph that Bob, a person, works at Globex, a company.",
        check: |f, _| {
            let graph = memory(f)?;
            ensure(entity(&graph, "bob").is_some(), "there is no entity Bob")?;
            ensure(entity(&graph, "globex").is_some(), "there is no entity Globex")?;
            ensure(
                graph
                    .iter()
                    .any(|r| r["type"] == "relation" && lower(&r["from"]) == "bob" && lower(&r["to"]) == "globex"),
                "there is no relation from Bob to Globex",
            )?;
            ensure(entity(&graph, "alice").is_some(), "Alice is gone")
        },
    },
    ServerTask {
        id: "mem-observe",
        kind: "single",
        query: "Add the observation 'prefers email over phone' to Alice in the knowledge graph.",
        check: |f, _| {
            let graph = memory(f)?;
            let alice = entity(&graph, "alice").ok_or("Alice is gone")?;
            let observations = alice["observations"].to_string().to_lowercase();
            ensure(
                observations.contains("prefers email over phone") && observations.contains("billing team"),
                format!("Alice's observations are {}", alice["observations"]),
            )
        },
    },
    ServerTask {
        id: "mem-where",
        kind: "question",
        query: "According to the knowledge graph, which company does Alice work at?",
        check: |_, out| expect_words(out, &["acme"], &[]),
    },
    ServerTask {
        id: "time-tokyo",
        kind: "question",
        query: "What time is it in Tokyo when it is 14:30 in UTC?",
        check: |_, out| expect_words(out, &["23:30"], &[]),
    },
    ServerTask {
        id: "time-kolkata",
        kind: "question",
        query: "Convert 09:00 in Asia/Kolkata to UTC.",
        check: |_, out| expect_words(out, &["03:30"], &[]),
    },
    ServerTask {
        id: "fetch-version",
        kind: "question",
        query: "Which version does the page {url}/release.html announce?",
        check: |_, out| expect_words(out, &["2.4.1"], &[]),
    },
    ServerTask {
        id: "fetch-to-memory",
        kind: "chain",
        query: "Read the page {url}/team.html and add each person it lists to the knowledge graph as an entity of type person.",
        check: |f, _| {
            let graph = memory(f)?;
            for name in ["priya nair", "tom becker", "sara lind"] {
                let found = graph
                    .iter()
                    .any(|e| e["type"] == "entity" && lower(&e["name"]).contains(name));
                ensure(found, format!("no entity for {name}"))?;
            }
            Ok(())
        },
    },
];

fn lower(value: &Value) -> String {
    value.as_str().unwrap_or_default().trim().to_lowercase()
}

fn file_says(f: &Fixture, rel: &str, text: &str) -> Result<(), String> {
    let content = f.read(rel)?;
    ensure(
        content.to_lowercase().contains(text),
        format!("{rel} reads {content:?}"),
    )
}

fn sql(f: &Fixture, query: &str) -> Result<Vec<Vec<Value>>, String> {
    f.sql(query).map_err(|e| format!("{e:#}"))
}

/// The knowledge graph's lines.
fn memory(f: &Fixture) -> Result<Vec<Value>, String> {
    let text = f.read("memory.jsonl")?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format!("memory.jsonl: {e}")))
        .collect()
}

fn entity<'g>(graph: &'g [Value], name: &str) -> Option<&'g Value> {
    graph
        .iter()
        .find(|e| e["type"] == "entity" && lower(&e["name"]) == name)
}

/// The answer as lower-case text: a string as it is, anything else as JSON.
fn answer_text(out: &Value) -> String {
    match out {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string().to_lowercase(),
    }
}

/// The answer names every one of `wanted` and none of `unwanted`.
fn expect_words(out: &Value, wanted: &[&str], unwanted: &[&str]) -> Result<(), String> {
    let text = answer_text(out);
    for w in wanted {
        ensure(text.contains(w), format!("the answer does not say {w:?}: {text}"))?;
    }
    for w in unwanted {
        ensure(!text.contains(w), format!("the answer also says {w:?}: {text}"))?;
    }
    Ok(())
}

/// The answer is `expected`: the value itself, or the only number in a string or in an
/// object's values.
fn expect_number(out: &Value, expected: f64) -> Result<(), String> {
    match number_in(out) {
        Some(n) if (n - expected).abs() < 1e-9 => Ok(()),
        Some(n) => Err(format!("the answer is {n}, not {expected}")),
        None => Err(format!("the answer is not one number: {out}")),
    }
}

fn number_in(out: &Value) -> Option<f64> {
    match out {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => {
            let numbers: Vec<f64> = text
                .split(|c: char| !(c.is_ascii_digit() || c == '.'))
                .map(|t| t.trim_matches('.'))
                .filter_map(|t| t.parse().ok())
                .collect();
            (numbers.len() == 1).then(|| numbers[0])
        }
        Value::Object(map) => {
            let numbers: Vec<f64> = map.values().filter_map(number_in).collect();
            (numbers.len() == 1).then(|| numbers[0])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_unique_and_there_are_at_least_twenty_tasks_of_every_kind() {
        let mut ids: Vec<_> = SERVER_TASKS.iter().map(|t| t.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), SERVER_TASKS.len());
        assert!(SERVER_TASKS.len() >= 20);
        for kind in ["single", "chain", "loop", "question"] {
            assert!(SERVER_TASKS.iter().any(|t| t.kind == kind), "{kind}");
        }
    }

    #[test]
    fn answers_are_read_leniently_but_not_loosely() {
        assert!(expect_number(&json!(3), 3.0).is_ok());
        assert!(expect_number(&json!("There are 3 files."), 3.0).is_ok());
        assert!(expect_number(&json!({"count": 450}), 450.0).is_ok());
        assert!(expect_number(&json!("3 of 4"), 3.0).is_err());
        assert!(expect_number(&json!(["a.md", "b.md", "c.md"]), 3.0).is_err());
        assert!(expect_words(&json!("Desk Chair"), &["desk chair"], &["notebook"]).is_ok());
        assert!(expect_words(&json!(["Desk Chair", "Notebook"]), &["desk chair"], &["notebook"]).is_err());
    }
}
