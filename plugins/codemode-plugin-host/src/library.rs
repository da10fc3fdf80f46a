//! Opening a plugin library, checking what it is, making its instance, and finding a plugin
//! by name in the plugin folders.

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};

pub use codemode_plugin_abi::PluginKind;
use codemode_plugin_abi::messages::{Answer, Description, Request};
use codemode_plugin_abi::{ABI_VERSION, ENTRY_SYMBOL, ENTRY_SYMBOL_V1, EntryPoint, HostCallbacks, PluginVTable};
use serde_json::Value;

use crate::PluginError;

/// An opened plugin library whose ABI version and description were checked.
pub(crate) struct Library {
    pub(crate) path: PathBuf,
    pub(crate) name: String,
    pub(crate) kind: PluginKind,
    vtable: &'static PluginVTable,
    // Dropped last: keeps the vtable and the code alive.
    _library: libloading::Library,
}

impl Library {
    /// Opens `path` and reads its description.
    pub(crate) fn open(path: &Path) -> Result<Self, PluginError> {
        let path = path.to_path_buf();
        // SAFETY: loading a library runs its initializers; plugins are trusted code, as the
        // documentation says.
        let library = unsafe { libloading::Library::new(&path) }.map_err(|e| PluginError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?;
        // SAFETY: the symbol, when present, has the ABI's entry point signature.
        let entry = match unsafe { library.get::<EntryPoint>(ENTRY_SYMBOL) } {
            Ok(entry) => *entry,
            Err(_) => {
                // SAFETY: only checking that the symbol exists.
                let v1 = unsafe { library.get::<EntryPoint>(ENTRY_SYMBOL_V1) }.is_ok();
                return Err(if v1 {
                    PluginError::AbiVersion { path, found: 1 }
                } else {
                    PluginError::NotAPlugin { path }
                });
            }
        };
        // SAFETY: calling the entry point returns a pointer to a static vtable.
        let vtable = unsafe { entry() };
        if vtable.is_null() {
            return Err(PluginError::NotAPlugin { path });
        }
        // SAFETY: the vtable is a static of the library, alive as long as `library`, which
        // this struct owns (and every `Instance` holds through an `Arc`).
        let vtable: &'static PluginVTable = unsafe { &*vtable };
        if vtable.abi_version != ABI_VERSION {
            return Err(PluginError::AbiVersion {
                path,
                found: vtable.abi_version,
            });
        }
        let description = read_description(vtable).map_err(|message| PluginError::Description {
            path: path.clone(),
            message,
        })?;
        Ok(Self {
            name: description.name,
            kind: description.kind,
            path,
            vtable,
            _library: library,
        })
    }

    /// Fails unless the plugin is of `kind`.
    pub(crate) fn expect_kind(&self, kind: PluginKind) -> Result<(), PluginError> {
        if self.kind == kind {
            return Ok(());
        }
        Err(PluginError::WrongKind {
            path: self.path.clone(),
            name: self.name.clone(),
            found: self.kind.to_string(),
            expected: kind,
        })
    }

    /// Makes the plugin's instance for `config`.
    pub(crate) fn instantiate(self, config: &Value) -> Result<Instance, PluginError> {
        let config = CString::new(config.to_string()).map_err(|e| PluginError::Create {
            name: self.name.clone(),
            message: e.to_string(),
        })?;
        let mut error: *mut c_char = std::ptr::null_mut();
        // SAFETY: a NUL-terminated config and a writable error pointer, as the ABI says.
        let instance = unsafe { (self.vtable.create)(config.as_ptr(), &mut error) };
        if instance.is_null() {
            let message = if error.is_null() {
                "no reason given".to_string()
            } else {
                // SAFETY: the plugin wrote a NUL-terminated string, freed right after.
                let text = unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned();
                // SAFETY: `error` came from this plugin.
                unsafe { (self.vtable.free_string)(error) };
                text
            };
            return Err(PluginError::Create {
                name: self.name.clone(),
                message,
            });
        }
        tracing::debug!(plugin = %self.name, kind = %self.kind, path = %self.path.display(), "plugin loaded");
        Ok(Instance {
            instance,
            library: self,
        })
    }
}

/// A plugin's instance; destroyed before its library is unloaded.
pub(crate) struct Instance {
    instance: *mut c_void,
    pub(crate) library: Library,
}

// SAFETY: the ABI requires instances to be usable from any thread (the author's type is
// `Send + Sync`); the vtable is a static of the loaded library, kept alive with it.
unsafe impl Send for Instance {}
// SAFETY: as above.
unsafe impl Sync for Instance {}

impl Drop for Instance {
    fn drop(&mut self) {
        // SAFETY: the instance came from this vtable's `create` and is not used again.
        unsafe { (self.library.vtable.destroy)(self.instance) };
    }
}

impl Instance {
    /// Sends one request (with the host's callbacks for `execute`) and reads the answer:
    /// the `ok` value, or the `error` message.
    pub(crate) fn request(&self, request: &Request, host: Option<&HostCallbacks>) -> Result<Value, String> {
        let text = serde_json::to_string(request).map_err(|e| format!("bad request: {e}"))?;
        let text = CString::new(text).map_err(|e| format!("bad request: {e}"))?;
        let host = host.map_or(std::ptr::null(), |h| h as *const HostCallbacks);
        // SAFETY: `instance` came from this vtable's `create`; `text` is NUL-terminated;
        // `host` is null or valid until `call` returns.
        let answer = unsafe { (self.library.vtable.call)(self.instance, text.as_ptr(), host) };
        if answer.is_null() {
            return Err("the plugin answered nothing".into());
        }
        // SAFETY: the plugin returns a NUL-terminated string, freed right after reading.
        let answer_text = unsafe { CStr::from_ptr(answer) }.to_string_lossy().into_owned();
        // SAFETY: `answer` came from this plugin and is not used again.
        unsafe { (self.library.vtable.free_string)(answer) };
        match serde_json::from_str(&answer_text) {
            Ok(Answer::Ok(value)) => Ok(value),
            Ok(Answer::Error(message)) => Err(message),
            Err(e) => Err(format!(
                "the plugin's answer is not {{\"ok\": ...}} or {{\"error\": \"...\"}} ({e}): {}",
                answer_text.chars().take(200).collect::<String>()
            )),
        }
    }
}

fn read_description(vtable: &PluginVTable) -> Result<Description, String> {
    // SAFETY: `describe` returns a static NUL-terminated string.
    let text = unsafe { (vtable.describe)() };
    if text.is_null() {
        return Err("the plugin has no description".into());
    }
    // SAFETY: as above; the string is static and not freed.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    serde_json::from_str(&text).map_err(|e| format!("the plugin's description cannot be read: {e}"))
}

/// The environment variable listing more plugin folders (separated like `PATH`).
pub const PLUGIN_PATH_ENV: &str = "CODEMODE_PLUGIN_PATH";

/// The folders searched for a plugin by name: `dirs` (from `[plugins] dirs`), then those of
/// `CODEMODE_PLUGIN_PATH`.
pub fn plugin_search_path(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut all = dirs.to_vec();
    if let Some(value) = std::env::var_os(PLUGIN_PATH_ENV) {
        all.extend(std::env::split_paths(&value).filter(|p| !p.as_os_str().is_empty()));
    }
    all
}

/// Opens the first library in `dirs` (in order; files in a folder by name) whose
/// description has `name` and `kind`. Every shared library in those folders is opened to
/// read its description: put only plugins you trust there.
pub(crate) fn find(name: &str, kind: PluginKind, dirs: &[PathBuf]) -> Result<Library, PluginError> {
    let mut skipped = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(std::env::consts::DLL_SUFFIX))
            })
            .collect();
        files.sort();
        for file in files {
            match Library::open(&file) {
                Ok(library) if library.name == name && library.kind == kind => return Ok(library),
                Ok(library) => skipped.push(format!("{} ({} `{}`)", file.display(), library.kind, library.name)),
                Err(e) => skipped.push(format!("{}: {e}", file.display())),
            }
        }
    }
    Err(PluginError::NotFound {
        name: name.to_string(),
        kind,
        searched: dirs.to_vec(),
        seen: skipped,
    })
}
