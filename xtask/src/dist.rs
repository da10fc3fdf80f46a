//! `cargo xtask dist`: assembles a custom `codemode` binary from a chosen set of the CLI's
//! features and third-party plugin crates.
//!
//! It writes a small binary crate (its own workspace) under `target/dist/crate`: a
//! `Cargo.toml` that depends on `codemode-cli` with exactly the chosen features and on each
//! plugin crate, and a `main.rs` that names every plugin crate with `extern crate`, so the
//! linker keeps them and their `inventory` registrations reach the registry. It builds that
//! crate (release unless `--debug`) and copies the binary to `--out` as `codemode`.
//!
//! The assembled binary is built under its own name ([`DIST_BIN`]): it shares the build
//! cache of the workspace (its dependencies are the same crates), but never overwrites the
//! workspace's own `target/debug/codemode`, which `cargo xtask test` and users run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

const USAGE: &str =
    "cargo xtask dist [--features a,b] [--plugin-crate NAME[@VERSION]]... [--plugin-path DIR]... [--out DIR] [--debug]";

/// The name the assembled binary is built under (copied to `--out` as `codemode`).
const DIST_BIN: &str = "codemode-dist";

/// A plugin crate to link: from the registry or from a folder.
#[derive(Debug, PartialEq)]
enum Plugin {
    Registry {
        name: String,
        version: String,
    },
    /// `lib` is the crate's `[lib] name`, when its manifest sets one.
    Path {
        name: String,
        lib: Option<String>,
        dir: PathBuf,
    },
}

impl Plugin {
    fn name(&self) -> &str {
        match self {
            Plugin::Registry { name, .. } | Plugin::Path { name, .. } => name,
        }
    }

    /// The name Rust code uses for the crate (`[lib] name`, else the package's with `_`).
    fn crate_name(&self) -> String {
        match self {
            Plugin::Path { lib: Some(lib), .. } => lib.clone(),
            _ => self.name().replace('-', "_"),
        }
    }

    /// The line of the generated `[dependencies]`.
    fn dependency(&self) -> String {
        match self {
            Plugin::Registry { name, version } => format!("{name} = {}", toml_string(version)),
            Plugin::Path { name, dir, .. } => {
                format!("{name} = {{ path = {} }}", toml_string(&dir.display().to_string()))
            }
        }
    }
}

/// What `cargo xtask dist` was asked for.
#[derive(Debug, PartialEq)]
struct DistArgs {
    features: Vec<String>,
    plugins: Vec<Plugin>,
    out: Option<PathBuf>,
    debug: bool,
}

/// A path plugin's package name and `[lib] name`.
type PluginNames = (String, Option<String>);

fn parse_args(
    args: impl Iterator<Item = String>,
    plugin_name: impl Fn(&Path) -> Result<PluginNames>,
) -> Result<DistArgs> {
    let mut parsed = DistArgs {
        features: Vec::new(),
        plugins: Vec::new(),
        out: None,
        debug: false,
    };
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |what: &str| -> Result<String> {
            inline
                .clone()
                .or_else(|| args.next())
                .with_context(|| format!("{flag} needs {what}\nusage: {USAGE}"))
        };
        match flag.as_str() {
            "--features" => parsed.features.extend(
                value("a comma-separated list of features")?
                    .split(',')
                    .map(str::trim)
                    .filter(|f| !f.is_empty())
                    .map(str::to_string),
            ),
            "--plugin-crate" => {
                let spec = value("NAME[@VERSION]")?;
                let (name, version) = spec.split_once('@').unwrap_or((&spec, "*"));
                if name.is_empty() || version.is_empty() {
                    bail!("--plugin-crate {spec}: expected NAME or NAME@VERSION");
                }
                parsed.plugins.push(Plugin::Registry {
                    name: name.to_string(),
                    version: version.to_string(),
                });
            }
            "--plugin-path" => {
                let dir = PathBuf::from(value("the folder of a plugin crate")?);
                let dir = std::path::absolute(&dir).with_context(|| format!("--plugin-path {}", dir.display()))?;
                let (name, lib) = plugin_name(&dir)?;
                parsed.plugins.push(Plugin::Path { name, lib, dir });
            }
            "--out" => parsed.out = Some(PathBuf::from(value("a folder")?)),
            "--debug" => parsed.debug = true,
            "-h" | "--help" => bail!("usage: {USAGE}"),
            other => bail!("unknown argument `{other}`\nusage: {USAGE}"),
        }
    }
    let mut seen = BTreeSet::new();
    for plugin in &parsed.plugins {
        if !seen.insert(plugin.name().to_string()) {
            bail!("plugin crate `{}` is given twice", plugin.name());
        }
    }
    Ok(parsed)
}

/// The package name and `[lib] name` in `DIR/Cargo.toml`.
fn package_name(dir: &Path) -> Result<PluginNames> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("--plugin-path {}: cannot read {}", dir.display(), manifest.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", manifest.display()))?;
    let name = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .with_context(|| format!("{} has no [package] name", manifest.display()))?;
    let lib = table
        .get("lib")
        .and_then(|l| l.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string);
    Ok((name, lib))
}

/// The features `codemode-cli` declares (what `--features` may name).
fn cli_features(root: &Path) -> Result<BTreeSet<String>> {
    let manifest = root.join("crates/codemode-cli/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| format!("cannot read {}", manifest.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("{} is not valid TOML", manifest.display()))?;
    Ok(table
        .get("features")
        .and_then(|f| f.as_table())
        .map(|f| f.keys().filter(|k| *k != "default").cloned().collect())
        .unwrap_or_default())
}

/// The `[profile.*]` sections of the workspace manifest, verbatim: the generated crate is its
/// own workspace and would otherwise build with Cargo's defaults (and not share the cache).
fn workspace_profiles(root_manifest: &str) -> String {
    let mut out = String::new();
    let mut in_profile = false;
    for line in root_manifest.lines() {
        if line.starts_with('[') {
            in_profile = line.starts_with("[profile.");
        }
        if in_profile {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `s` as a TOML basic string (backslashes and quotes escaped).
fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The generated `Cargo.toml`.
fn manifest(root: &Path, args: &DistArgs, profiles: &str) -> String {
    let features = args
        .features
        .iter()
        .map(|f| toml_string(f))
        .collect::<Vec<_>>()
        .join(", ");
    let cli = root.join("crates/codemode-cli");
    let mut text = format!(
        "# Generated by `cargo xtask dist`; rewritten on every run.\n\
         [package]\nname = \"codemode-dist\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [[bin]]\nname = \"{DIST_BIN}\"\npath = \"src/main.rs\"\n\n\
         [dependencies]\ncodemode-cli = {{ path = {}, default-features = false, features = [{features}] }}\n",
        toml_string(&cli.display().to_string())
    );
    for plugin in &args.plugins {
        text.push_str(&plugin.dependency());
        text.push('\n');
    }
    text.push_str("\n# Its own workspace, with the profiles of codemode's.\n[workspace]\n\n");
    text.push_str(profiles);
    text
}

/// The generated `main.rs`.
fn main_rs(args: &DistArgs) -> String {
    let mut text = String::from(
        "//! A codemode binary assembled by `cargo xtask dist`.\n\
         //!\n\
         //! Each plugin crate is named here so that it is linked, and its registrations with\n\
         //! it.\n\n",
    );
    for plugin in &args.plugins {
        text.push_str(&format!("extern crate {};\n", plugin.crate_name()));
    }
    if !args.plugins.is_empty() {
        text.push('\n');
    }
    text.push_str("fn main() -> std::process::ExitCode {\n    codemode_cli::main()\n}\n");
    text
}

/// `cargo xtask dist ARGS`.
pub fn main(args: impl Iterator<Item = String>, root: &Path) -> Result<()> {
    let args = parse_args(args, package_name)?;
    let known = cli_features(root)?;
    for feature in &args.features {
        if !known.contains(feature) {
            bail!(
                "unknown feature `{feature}`; codemode-cli has: {}",
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    let crate_dir = root.join("target/dist/crate");
    std::fs::create_dir_all(crate_dir.join("src")).with_context(|| format!("cannot create {}", crate_dir.display()))?;
    let root_manifest = std::fs::read_to_string(root.join("Cargo.toml")).context("cannot read Cargo.toml")?;
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        manifest(root, &args, &workspace_profiles(&root_manifest)),
    )?;
    std::fs::write(crate_dir.join("src/main.rs"), main_rs(&args))?;
    // The workspace's lock file: the same versions as the tested build (Cargo adds what the
    // plugin crates need and drops the rest).
    std::fs::copy(root.join("Cargo.lock"), crate_dir.join("Cargo.lock")).context("cannot copy Cargo.lock")?;

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--manifest-path"])
        .arg(crate_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir);
    if !args.debug {
        build.arg("--release");
    }
    eprintln!(
        "xtask: building codemode with features [{}] and plugin crates [{}]",
        args.features.join(", "),
        args.plugins.iter().map(Plugin::name).collect::<Vec<_>>().join(", ")
    );
    crate::run(&mut build)?;

    let built = target_dir
        .join(if args.debug { "debug" } else { "release" })
        .join(format!("{DIST_BIN}{}", std::env::consts::EXE_SUFFIX));
    let out = args.out.clone().unwrap_or_else(|| root.join("target/dist"));
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let binary = out.join(format!("codemode{}", std::env::consts::EXE_SUFFIX));
    // Copy through a temporary name: the old binary may be running.
    let partial = out.join(".codemode.partial");
    std::fs::copy(&built, &partial).with_context(|| format!("cannot copy {}", built.display()))?;
    std::fs::rename(&partial, &binary)?;
    println!("{}", binary.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<DistArgs> {
        parse_args(args.iter().map(|s| s.to_string()), |dir| {
            let name = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
            // A folder named `*-lib` stands for a crate with its own `[lib] name`.
            let lib = name
                .strip_suffix("-lib")
                .map(|n| format!("{}_core", n.replace('-', "_")));
            Ok((name, lib))
        })
    }

    #[test]
    fn features_plugins_and_out_are_read() {
        let args = parse(&[
            "--features",
            "mcp, openai",
            "--features=env-local",
            "--plugin-crate",
            "acme-tools@1.2",
            "--plugin-crate=other",
            "--plugin-path",
            "/plugins/units",
            "--out",
            "/tmp/out",
            "--debug",
        ])
        .unwrap();
        assert_eq!(args.features, ["mcp", "openai", "env-local"]);
        assert_eq!(
            args.plugins,
            [
                Plugin::Registry {
                    name: "acme-tools".into(),
                    version: "1.2".into()
                },
                Plugin::Registry {
                    name: "other".into(),
                    version: "*".into()
                },
                Plugin::Path {
                    name: "units".into(),
                    lib: None,
                    dir: "/plugins/units".into()
                },
            ]
        );
        assert_eq!(args.out.as_deref(), Some(Path::new("/tmp/out")));
        assert!(args.debug);
    }

    #[test]
    fn mistakes_are_errors_that_say_what_to_write() {
        let missing = parse(&["--features"]).unwrap_err().to_string();
        assert!(
            missing.contains("--features needs") && missing.contains("usage:"),
            "{missing}"
        );
        let unknown = parse(&["--feature", "mcp"]).unwrap_err().to_string();
        assert!(unknown.contains("unknown argument `--feature`"), "{unknown}");
        let twice = parse(&["--plugin-crate", "a", "--plugin-path", "/x/a"])
            .unwrap_err()
            .to_string();
        assert!(twice.contains("`a` is given twice"), "{twice}");
        let empty = parse(&["--plugin-crate", "a@"]).unwrap_err().to_string();
        assert!(empty.contains("NAME@VERSION"), "{empty}");
    }

    #[test]
    fn the_generated_crate_links_each_plugin_and_only_the_chosen_features() {
        let args = parse(&[
            "--features",
            "mcp,openai",
            "--plugin-path",
            "/p/acme-units",
            "--plugin-crate",
            "x@2",
        ])
        .unwrap();
        let text = manifest(Path::new("/repo"), &args, "[profile.release]\nlto = true\n");
        let table: toml::Table = toml::from_str(&text).unwrap();
        let cli = &table["dependencies"]["codemode-cli"];
        assert_eq!(cli["default-features"].as_bool(), Some(false));
        assert_eq!(
            cli["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect::<Vec<_>>(),
            ["mcp", "openai"]
        );
        assert_eq!(
            table["dependencies"]["acme-units"]["path"].as_str(),
            Some("/p/acme-units")
        );
        assert_eq!(table["dependencies"]["x"].as_str(), Some("2"));
        assert!(table.contains_key("workspace"));
        assert_eq!(table["profile"]["release"]["lto"].as_bool(), Some(true));
        let main = main_rs(&args);
        assert!(
            main.contains("extern crate acme_units;") && main.contains("extern crate x;"),
            "{main}"
        );
        assert!(main.contains("codemode_cli::main()"));
    }

    #[test]
    fn strings_are_escaped_for_toml() {
        let quoted = toml_string(r#"C:\dir "x""#);
        let table: toml::Table = toml::from_str(&format!("p = {quoted}")).unwrap();
        assert_eq!(table["p"].as_str(), Some(r#"C:\dir "x""#));
    }

    #[test]
    fn only_the_profile_sections_are_copied() {
        let root = "[workspace]\nmembers = []\n[profile.dev.package.\"*\"]\nopt-level = 2\n[workspace.dependencies]\nx = \"1\"\n[profile.release]\nlto = true\n";
        assert_eq!(
            workspace_profiles(root),
            "[profile.dev.package.\"*\"]\nopt-level = 2\n[profile.release]\nlto = true\n"
        );
    }
}
