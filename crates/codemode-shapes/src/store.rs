//! The learned shapes of every tool, kept in one JSON file.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ShapeError;
use crate::shape::Shape;

/// Tools a store keeps; past this the ones learned longest ago are forgotten.
const MAX_TOOLS: usize = 5_000;
/// The file format's version; a file of another version is read as empty.
const VERSION: u32 = 1;

/// What identifies one tool's results: the server, the tool's name and its input schema.
/// A tool whose input schema changes gets a new key, so its shape starts over.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ShapeKey(String);

impl ShapeKey {
    /// The key of tool `name` with `input_schema` on the server known as `server` (an MCP
    /// server's name and version, else its command or URL). Only a hash of them is kept,
    /// so a token in a command line or URL never reaches the file.
    pub fn new(server: &str, name: &str, input_schema: &Value) -> Self {
        let schema = serde_json::to_string(input_schema).unwrap_or_default();
        let mut hash = Fnv1a::default();
        for part in [server, name, &schema] {
            hash.write(part.as_bytes());
            hash.write(&[0]);
        }
        Self(format!("{:016x}", hash.0))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// FNV-1a, 64 bits: stable across builds and Rust versions, unlike `DefaultHasher`.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// One tool's learned shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LearnedShape {
    /// The namespace the tool was called under (for people reading the store).
    pub namespace: String,
    /// The tool's name on its server.
    pub tool: String,
    /// Successful results merged into the shape.
    pub calls: u64,
    /// Seconds since the Unix epoch of the last result merged.
    pub updated: u64,
    /// The results' shape.
    pub shape: Shape,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct StoreFile {
    version: u32,
    tools: BTreeMap<ShapeKey, LearnedShape>,
}

/// What [`ShapeStore::observe`] did to a tool's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Observed {
    /// The tool had no learned shape; now it has one.
    New,
    /// The result did not fit; the type was widened to admit it.
    Widened,
    /// The result fitted the type as it was; only the count changed.
    Fitted,
}

/// Learned shapes by [`ShapeKey`], read from and written to one JSON file (or kept in
/// memory only). The file holds shapes and counts, never values.
///
/// ```
/// use codemode_shapes::{ShapeKey, ShapeStore};
/// use serde_json::json;
///
/// let mut store = ShapeStore::in_memory();
/// let key = ShapeKey::new("sqlite 1.0", "list_tables", &json!({"type": "object"}));
/// store.observe(&key, "db", "list_tables", &json!([{"name": "users"}]));
/// store.observe(&key, "db", "list_tables", &json!([{"name": "orders", "rows": 3}]));
/// let learned = store.get(&key).unwrap();
/// assert_eq!(learned.calls, 2);
/// assert_eq!(learned.shape.summary(), "{name, rows?}[]");
/// ```
#[derive(Debug, Clone, Default)]
pub struct ShapeStore {
    path: Option<PathBuf>,
    file: StoreFile,
    /// Calls of each tool when the file was read, to merge with other writers on save.
    loaded_calls: BTreeMap<ShapeKey, u64>,
    dirty: bool,
}

impl ShapeStore {
    /// A store that is never written.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// The store in `path`; empty when the file does not exist. A file that cannot be read
    /// or parsed is an error and is left as it is.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, ShapeError> {
        let path = path.into();
        let file = read_file(&path)?.unwrap_or_default();
        let loaded_calls = file.tools.iter().map(|(k, v)| (k.clone(), v.calls)).collect();
        Ok(Self {
            path: Some(path),
            file,
            loaded_calls,
            dirty: false,
        })
    }

    /// The file, when the store has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The learned shape of one tool.
    pub fn get(&self, key: &ShapeKey) -> Option<&LearnedShape> {
        self.file.tools.get(key)
    }

    /// Every learned shape, by namespace and tool name.
    pub fn entries(&self) -> Vec<&LearnedShape> {
        let mut all: Vec<&LearnedShape> = self.file.tools.values().collect();
        all.sort_by(|a, b| (&a.namespace, &a.tool).cmp(&(&b.namespace, &b.tool)));
        all
    }

    /// How many tools have a learned shape.
    pub fn len(&self) -> usize {
        self.file.tools.len()
    }

    /// True when no tool has a learned shape.
    pub fn is_empty(&self) -> bool {
        self.file.tools.is_empty()
    }

    /// Merges one successful result of a tool into its shape.
    pub fn observe(&mut self, key: &ShapeKey, namespace: &str, tool: &str, result: &Value) -> Observed {
        let now = now();
        self.dirty = true;
        let observed = match self.file.tools.get_mut(key) {
            Some(learned) => {
                let fits = learned.shape.admits(result);
                if !fits {
                    learned.shape = std::mem::replace(&mut learned.shape, crate::Shape::Any).merge(Shape::of(result));
                }
                learned.calls += 1;
                learned.updated = now;
                learned.namespace = namespace.to_string();
                if fits { Observed::Fitted } else { Observed::Widened }
            }
            None => {
                self.file.tools.insert(
                    key.clone(),
                    LearnedShape {
                        namespace: namespace.to_string(),
                        tool: tool.to_string(),
                        calls: 1,
                        updated: now,
                        shape: Shape::of(result),
                    },
                );
                Observed::New
            }
        };
        self.forget_oldest();
        observed
    }

    /// Forgets every learned shape (the file is removed on [`Self::save`]).
    pub fn clear(&mut self) {
        self.file.tools.clear();
        self.loaded_calls.clear();
        self.dirty = true;
    }

    /// Writes the store to its file when something changed. Tools another process learned
    /// since this store was read are kept, and where both learned the same tool the shapes
    /// are merged. The file is replaced at once (written beside it, then renamed).
    pub fn save(&mut self) -> Result<(), ShapeError> {
        let Some(path) = self.path.clone() else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        if self.file.tools.is_empty() && self.loaded_calls.is_empty() {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ShapeError::io(&path, e)),
            }
            self.dirty = false;
            return Ok(());
        }
        // What another writer added since we read the file.
        if let Ok(Some(disk)) = read_file(&path) {
            for (key, theirs) in disk.tools {
                let before = self.loaded_calls.get(&key).copied();
                match (self.file.tools.get_mut(&key), before) {
                    (None, None) => {
                        self.file.tools.insert(key, theirs);
                    }
                    (Some(ours), Some(before)) if theirs.calls > before => {
                        ours.calls += theirs.calls - before;
                        ours.updated = ours.updated.max(theirs.updated);
                        ours.shape = std::mem::replace(&mut ours.shape, Shape::Any).merge(theirs.shape);
                    }
                    (Some(ours), None) => {
                        ours.calls += theirs.calls;
                        ours.shape = std::mem::replace(&mut ours.shape, Shape::Any).merge(theirs.shape);
                    }
                    _ => {}
                }
            }
            self.forget_oldest();
        }
        self.file.version = VERSION;
        let text = serde_json::to_string_pretty(&self.file).map_err(|e| ShapeError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| ShapeError::io(dir, e))?;
        }
        let temporary = path.with_extension(format!("tmp.{}", std::process::id()));
        std::fs::write(&temporary, text).map_err(|e| ShapeError::io(&temporary, e))?;
        std::fs::rename(&temporary, &path).map_err(|e| ShapeError::io(&path, e))?;
        self.loaded_calls = self.file.tools.iter().map(|(k, v)| (k.clone(), v.calls)).collect();
        self.dirty = false;
        Ok(())
    }

    fn forget_oldest(&mut self) {
        while self.file.tools.len() > MAX_TOOLS {
            let oldest = self
                .file
                .tools
                .iter()
                .min_by_key(|(_, v)| v.updated)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => {
                    self.file.tools.remove(&key);
                }
                None => break,
            }
        }
    }
}

fn read_file(path: &Path) -> Result<Option<StoreFile>, ShapeError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(ShapeError::io(path, e)),
    };
    let file: StoreFile = serde_json::from_str(&text).map_err(|e| ShapeError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    if file.version != VERSION {
        tracing::info!(path = %path.display(), version = file.version, "learned types of another version are not read");
        return Ok(Some(StoreFile::default()));
    }
    Ok(Some(file))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keys_change_with_the_server_the_name_and_the_input_schema() {
        let schema = json!({"type": "object", "properties": {"q": {"type": "string"}}});
        let key = ShapeKey::new("db 1.0", "query", &schema);
        assert_eq!(key, ShapeKey::new("db 1.0", "query", &schema));
        assert_ne!(key, ShapeKey::new("db 1.1", "query", &schema));
        assert_ne!(key, ShapeKey::new("db 1.0", "query2", &schema));
        assert_ne!(key, ShapeKey::new("db 1.0", "query", &json!({"type": "object"})));
        assert_eq!(key.as_str().len(), 16);
    }

    #[test]
    fn observe_tells_new_widened_and_fitted() {
        let mut store = ShapeStore::in_memory();
        let key = ShapeKey::new("s", "t", &json!({}));
        assert_eq!(store.observe(&key, "ns", "t", &json!({"a": 1})), Observed::New);
        assert_eq!(store.observe(&key, "ns", "t", &json!({"a": 2})), Observed::Fitted);
        assert_eq!(
            store.observe(&key, "ns", "t", &json!({"a": 2, "b": "x"})),
            Observed::Widened
        );
        assert_eq!(store.observe(&key, "ns", "t", &json!({"a": 3})), Observed::Fitted);
        let learned = store.get(&key).unwrap();
        assert_eq!(learned.calls, 4);
        assert_eq!(learned.shape.summary(), "{a, b?}");
    }

    #[test]
    fn the_file_round_trips_holds_no_values_and_clear_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cache/learned-types.json");
        let key = ShapeKey::new("https://api.example.org/mcp?token=sk-live-42", "me", &json!({}));
        let mut store = ShapeStore::open(&path).unwrap();
        assert!(store.is_empty());
        store.observe(
            &key,
            "api",
            "me",
            &json!({"email": "ann@example.org", "balance": 1234.5}),
        );
        store.save().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in ["sk-live-42", "ann@example.org", "1234.5", "example.org"] {
            assert!(!text.contains(secret), "{secret} is in the store: {text}");
        }
        let mut again = ShapeStore::open(&path).unwrap();
        assert_eq!(again.get(&key).unwrap().shape.summary(), "{balance, email}");
        again.clear();
        again.save().unwrap();
        assert!(!path.exists());
    }

    #[test]
    fn two_writers_keep_what_each_learned() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shapes.json");
        let shared = ShapeKey::new("s", "shared", &json!({}));
        let mine = ShapeKey::new("s", "mine", &json!({}));
        let theirs = ShapeKey::new("s", "theirs", &json!({}));
        let mut first = ShapeStore::open(&path).unwrap();
        first.observe(&shared, "ns", "shared", &json!({"a": 1}));
        first.save().unwrap();

        let mut a = ShapeStore::open(&path).unwrap();
        let mut b = ShapeStore::open(&path).unwrap();
        a.observe(&mine, "ns", "mine", &json!(1));
        a.observe(&shared, "ns", "shared", &json!({"a": 1, "from_a": true}));
        b.observe(&theirs, "ns", "theirs", &json!("x"));
        b.observe(&shared, "ns", "shared", &json!({"a": 1, "from_b": true}));
        b.save().unwrap();
        a.save().unwrap();

        let last = ShapeStore::open(&path).unwrap();
        assert_eq!(last.len(), 3);
        let shared = last.get(&shared).unwrap();
        assert_eq!(shared.calls, 3);
        assert_eq!(shared.shape.summary(), "{a, from_a?, from_b?}");
    }

    #[test]
    fn a_corrupt_file_is_an_error_and_stays_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shapes.json");
        std::fs::write(&path, "{not json").unwrap();
        let error = ShapeStore::open(&path).unwrap_err();
        assert!(error.to_string().contains("shapes.json"), "{error}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{not json");
    }
}
