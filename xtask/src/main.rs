//! Project automation: `cargo xtask <task>`.

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("help") | None => {
            println!("cargo xtask <task>\n\ntasks:\n  help    this list");
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown task `{other}`; `cargo xtask help` lists the tasks"),
    }
}
