//! The `codemode` binary: everything is in the `codemode_cli` library.

fn main() -> std::process::ExitCode {
    codemode_cli::main()
}
