//! The compiled, pre-initialized guest on disk (`CODEMODE_CACHE_DIR`, else the user's cache
//! folder), keyed by the engine's compatibility hash and the guest's bytes; the most
//! recently used few are kept.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use wasmtime::{Engine, Module};

use super::{GUEST_WASM, WasmError, setup, snapshot};

/// Bumped when the snapshot's contents change for reasons other than the guest's bytes.
const SNAPSHOT_FORMAT: u32 = 1;

fn cache_dir() -> PathBuf {
    std::env::var_os("CODEMODE_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("codemode")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/codemode")))
        .unwrap_or_else(|| std::env::temp_dir().join("codemode-cache"))
}

/// The compiled, pre-initialized guest: loaded from the on-disk cache, or snapshotted and
/// compiled now (and cached). Falls back to the plain guest if snapshotting fails.
pub(super) fn load_module(engine: &Engine) -> Result<(Module, bool), WasmError> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    GUEST_WASM.hash(&mut hasher);
    SNAPSHOT_FORMAT.hash(&mut hasher);
    let key = format!("{:016x}", hasher.finish());
    let dir = cache_dir();
    let path = dir.join(format!("guest-{key}.cwasm"));
    if path.is_file() {
        // SAFETY: the file was written by `Module::serialize` of an engine with the same
        // compatibility hash (it is in the file name); a corrupt file fails to load and is
        // rebuilt below.
        match unsafe { Module::deserialize_file(engine, &path) } {
            Ok(module) => {
                // Mark the entry as in use, so pruning keeps it over entries of older builds.
                let used = std::fs::File::options()
                    .append(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()));
                if let Err(e) = used {
                    tracing::debug!(error = %e, "cannot mark the module cache entry as used");
                }
                return Ok((module, true));
            }
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "ignoring a bad module cache entry"),
        }
    }
    let (module, snapshot) = match snapshot::snapshot_guest() {
        Ok(bytes) => (Module::new(engine, &bytes).map_err(setup)?, true),
        Err(e) => {
            tracing::warn!(error = %e, "cannot pre-initialize the guest; runs will initialize it each time");
            (Module::new(engine, GUEST_WASM).map_err(setup)?, false)
        }
    };
    if !snapshot {
        return Ok((module, false));
    }
    match module.serialize() {
        Ok(bytes) => {
            let tmp = dir.join(format!("guest-{key}.{}.tmp", std::process::id()));
            let written = std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&tmp, bytes))
                .and_then(|()| std::fs::rename(&tmp, &path));
            match written {
                Ok(()) => prune_module_cache(&dir, &path),
                Err(e) => tracing::debug!(error = %e, "cannot cache the compiled guest"),
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot serialize the compiled guest"),
    }
    Ok((module, true))
}

/// How many compiled guests the module cache keeps: one per codemode build (or wasmtime
/// configuration) in use on the machine. Each weighs ~3 MB; without a bound every upgrade
/// would leave one behind.
const MODULE_CACHE_ENTRIES: usize = 4;

/// Deletes all but the [`MODULE_CACHE_ENTRIES`] most recently used compiled guests in `dir`
/// (never `current`), and temporary files that a crashed writer left for over an hour.
fn prune_module_cache(dir: &Path, current: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let now = SystemTime::now();
    let mut modules = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.starts_with("guest-") || path == current {
            continue;
        }
        let Ok(modified) = entry.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        if name.ends_with(".cwasm") {
            modules.push((modified, path));
        } else if name.ends_with(".tmp") && now.duration_since(modified).unwrap_or_default() > Duration::from_secs(3600)
        {
            remove_cache_file(&path);
        }
    }
    modules.sort_by_key(|(modified, _)| std::cmp::Reverse(*modified));
    for (_, path) in modules.iter().skip(MODULE_CACHE_ENTRIES.saturating_sub(1)) {
        remove_cache_file(path);
    }
}

fn remove_cache_file(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::debug!(path = %path.display(), "pruned a module cache entry"),
        Err(e) => tracing::debug!(path = %path.display(), error = %e, "cannot prune a module cache entry"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(path: &Path, seconds: u64) {
        let file = std::fs::File::options().append(true).open(path).unwrap();
        file.set_modified(SystemTime::now() - Duration::from_secs(seconds))
            .unwrap();
    }

    #[test]
    fn module_cache_keeps_the_most_recent_entries_and_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let entry = |i: usize| dir.path().join(format!("guest-{i:016x}.cwasm"));
        for i in 0..7 {
            std::fs::write(entry(i), b"module").unwrap();
            // Entry 0 is the oldest; entry 6 the newest.
            age(&entry(i), 1000 - 100 * i as u64);
        }
        let stale_tmp = dir.path().join("guest-00.123.tmp");
        let fresh_tmp = dir.path().join("guest-01.456.tmp");
        std::fs::write(&stale_tmp, b"partial").unwrap();
        std::fs::write(&fresh_tmp, b"partial").unwrap();
        age(&stale_tmp, 7200);
        let unrelated = dir.path().join("notes.txt");
        std::fs::write(&unrelated, b"not ours").unwrap();

        // The current entry is the oldest of all and still stays.
        prune_module_cache(dir.path(), &entry(0));

        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "guest-0000000000000000.cwasm",
                "guest-0000000000000004.cwasm",
                "guest-0000000000000005.cwasm",
                "guest-0000000000000006.cwasm",
                "guest-01.456.tmp",
                "notes.txt",
            ]
        );
    }
}
