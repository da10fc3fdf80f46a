//! Loads codemode plugins at run time: shared libraries that implement the versioned C ABI
//! of [`codemode_plugin_abi`], serving tools as a [`ToolProvider`].
//!
//! ```toml
//! [tool_providers.text]
//! provider = "plugin"
//! path = "plugins/libcodemode_example_plugin.so"
//! config = { shout = true }      # given to the plugin as JSON
//! ```
//!
//! ```no_run
//! use std::sync::Arc;
//! use codemode_plugin_host::PluginToolProvider;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let text = PluginToolProvider::load("text", "target/debug/libcodemode_example_plugin.so", serde_json::json!({}))?;
//! let codemode = codemode_core::CodeMode::builder()
//!     .tool_provider("text", Arc::new(text))
//!     .build()
//!     .await?;
//! println!("{}", codemode.declarations());
//! # Ok(()) }
//! ```
//!
//! Loading a library runs its code: load only plugins you trust, as you would link a crate.
//! The host checks the ABI version and the plugin's kind before using it; calls run on
//! tokio's blocking pool, so a slow plugin does not stall the runtime; a panicking plugin
//! built with `export_tool_provider!` answers with an error instead of unwinding.

use std::ffi::{CStr, CString, c_char, c_void};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use codemode_core::registry::{FactoryContext, ProviderFuture, ToolProviderFactory, accept_settings};
use codemode_core::{ToolError, ToolProvider, ToolSpec};
use codemode_plugin_abi::{ABI_VERSION, ENTRY_SYMBOL, EntryPoint, PluginVTable};
use serde_json::{Value, json};

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The library could not be opened.
    #[error("cannot load plugin {path}: {message}")]
    Open {
        /// The library's path.
        path: PathBuf,
        /// The loader's message.
        message: String,
    },
    /// The library does not export the entry point.
    #[error("{path} is not a codemode plugin: it does not export `codemode_plugin_v1`")]
    NotAPlugin {
        /// The library's path.
        path: PathBuf,
    },
    /// The plugin was built for another ABI version.
    #[error("{path} implements plugin ABI version {found}; this codemode needs version {ABI_VERSION}: rebuild the plugin against codemode-plugin-abi {}", env!("CARGO_PKG_VERSION"))]
    AbiVersion {
        /// The library's path.
        path: PathBuf,
        /// The version it implements.
        found: u32,
    },
    /// The plugin is not a tool provider, or its description is unreadable.
    #[error("{path}: {message}")]
    Description {
        /// The library's path.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The plugin refused its configuration.
    #[error("plugin {name} refused its configuration: {message}")]
    Create {
        /// The plugin's name.
        name: String,
        /// Its message.
        message: String,
    },
}

/// A loaded library and the instance made from it; the instance is destroyed before the
/// library is unloaded.
struct Loaded {
    vtable: &'static PluginVTable,
    instance: *mut c_void,
    // Dropped last: keeps the vtable and the code alive.
    _library: libloading::Library,
}

// SAFETY: the ABI requires instances to be usable from any thread (the author's type is
// `Send + Sync`); the vtable is a static of the loaded library, kept alive with it.
unsafe impl Send for Loaded {}
// SAFETY: as above.
unsafe impl Sync for Loaded {}

impl Drop for Loaded {
    fn drop(&mut self) {
        // SAFETY: the instance came from this vtable's `create` and is not used again.
        unsafe { (self.vtable.destroy)(self.instance) };
    }
}

impl Loaded {
    /// Sends one JSON request and reads the answer (`ok` or `error`).
    fn request(&self, request: &Value) -> Result<Value, String> {
        let text = CString::new(request.to_string()).map_err(|e| format!("bad request: {e}"))?;
        // SAFETY: `instance` came from this vtable's `create`; `text` is NUL-terminated.
        let answer = unsafe { (self.vtable.call)(self.instance, text.as_ptr()) };
        if answer.is_null() {
            return Err("the plugin answered nothing".into());
        }
        // SAFETY: the plugin returns a NUL-terminated string, freed right after reading.
        let answer_text = unsafe { CStr::from_ptr(answer) }.to_string_lossy().into_owned();
        // SAFETY: `answer` came from this plugin and is not used again.
        unsafe { (self.vtable.free_string)(answer) };
        let mut answer: Value = serde_json::from_str(&answer_text)
            .map_err(|e| format!("the plugin answered something that is not JSON: {e}"))?;
        if let Some(error) = answer.get("error") {
            return Err(error.as_str().map_or_else(|| error.to_string(), str::to_string));
        }
        match answer.get_mut("ok") {
            Some(ok) => Ok(ok.take()),
            None => Err("the plugin's answer has neither `ok` nor `error`".into()),
        }
    }
}

/// A plugin's tools as a tool provider.
pub struct PluginToolProvider {
    name: String,
    namespace: String,
    path: PathBuf,
    loaded: Arc<Loaded>,
}

impl std::fmt::Debug for PluginToolProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginToolProvider")
            .field("name", &self.name)
            .field("namespace", &self.namespace)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl PluginToolProvider {
    /// Loads the plugin at `path` and makes its instance for `config`.
    pub fn load(namespace: impl Into<String>, path: impl AsRef<Path>, config: Value) -> Result<Self, PluginError> {
        let path = path.as_ref().to_path_buf();
        // SAFETY: loading a library runs its initializers; plugins are trusted code, as the
        // documentation says.
        let library = unsafe { libloading::Library::new(&path) }.map_err(|e| PluginError::Open {
            path: path.clone(),
            message: e.to_string(),
        })?;
        // SAFETY: the symbol, when present, has the ABI's entry point signature.
        let entry = unsafe { library.get::<EntryPoint>(ENTRY_SYMBOL) }
            .map_err(|_| PluginError::NotAPlugin { path: path.clone() })?;
        // SAFETY: calling the entry point returns a pointer to a static vtable.
        let vtable = unsafe { entry() };
        if vtable.is_null() {
            return Err(PluginError::NotAPlugin { path });
        }
        // SAFETY: the vtable is a static of the library, alive as long as `library`, which
        // `Loaded` owns; the reference does not outlive it.
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
        let name = description
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("unnamed")
            .to_string();
        match description.get("kind").and_then(Value::as_str) {
            Some("tool_provider") => {}
            other => {
                return Err(PluginError::Description {
                    path,
                    message: format!("the plugin is a {other:?}, not a tool provider"),
                });
            }
        }
        let config = CString::new(config.to_string()).map_err(|e| PluginError::Create {
            name: name.clone(),
            message: e.to_string(),
        })?;
        let mut error: *mut c_char = std::ptr::null_mut();
        // SAFETY: a NUL-terminated config and a writable error pointer, as the ABI says.
        let instance = unsafe { (vtable.create)(config.as_ptr(), &mut error) };
        if instance.is_null() {
            let message = if error.is_null() {
                "no reason given".to_string()
            } else {
                // SAFETY: the plugin wrote a NUL-terminated string, freed right after.
                let text = unsafe { CStr::from_ptr(error) }.to_string_lossy().into_owned();
                // SAFETY: `error` came from this plugin.
                unsafe { (vtable.free_string)(error) };
                text
            };
            return Err(PluginError::Create { name, message });
        }
        tracing::debug!(plugin = %name, path = %path.display(), "plugin loaded");
        Ok(Self {
            name,
            namespace: namespace.into(),
            path,
            loaded: Arc::new(Loaded {
                vtable,
                instance,
                _library: library,
            }),
        })
    }

    /// The plugin's own name (from its description).
    pub fn plugin_name(&self) -> &str {
        &self.name
    }

    async fn request(&self, request: Value) -> Result<Value, String> {
        let loaded = self.loaded.clone();
        tokio::task::spawn_blocking(move || loaded.request(&request))
            .await
            .map_err(|e| format!("the plugin's thread failed: {e}"))?
    }
}

fn read_description(vtable: &PluginVTable) -> Result<Value, String> {
    // SAFETY: `describe` returns a static NUL-terminated string.
    let text = unsafe { (vtable.describe)() };
    if text.is_null() {
        return Err("the plugin has no description".into());
    }
    // SAFETY: as above; the string is static and not freed.
    let text = unsafe { CStr::from_ptr(text) }.to_string_lossy();
    serde_json::from_str(&text).map_err(|e| format!("the plugin's description is not JSON: {e}"))
}

#[async_trait]
impl ToolProvider for PluginToolProvider {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let tools = self
            .request(json!({"method": "list_tools"}))
            .await
            .map_err(|message| ToolError::Unavailable {
                provider: self.namespace.clone(),
                message: format!("plugin {}: {message}", self.name),
            })?;
        serde_json::from_value(tools).map_err(|e| ToolError::Unavailable {
            provider: self.namespace.clone(),
            message: format!(
                "plugin {} listed tools that are not MCP tool descriptions: {e}",
                self.name
            ),
        })
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        self.request(json!({"method": "call_tool", "name": name, "arguments": arguments}))
            .await
            .map_err(ToolError::Failed)
    }
}

/// `path` is relative to the configuration file, like every other path in it.
fn create(context: FactoryContext) -> ProviderFuture {
    Box::pin(async move {
        let namespace = context.name.clone();
        let settings = &context.settings;
        let unavailable = |message: String| ToolError::Unavailable {
            provider: namespace.clone(),
            message,
        };
        let Some(path) = settings.get("path").and_then(Value::as_str) else {
            return Err(unavailable("a plugin needs `path`: the shared library to load".into()));
        };
        if let Some(key) = settings
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "path" && *k != "config"))
        {
            return Err(unavailable(format!(
                "unknown key `{key}` for a plugin: it takes `path` and `config`"
            )));
        }
        let config = settings.get("config").cloned().unwrap_or(Value::Null);
        let path = context.resolve_path(path);
        let provider = tokio::task::spawn_blocking({
            let namespace = namespace.clone();
            move || PluginToolProvider::load(namespace, path, config)
        })
        .await
        .map_err(|e| unavailable(format!("loading the plugin failed: {e}")))?
        .map_err(|e| unavailable(e.to_string()))?;
        Ok(Arc::new(provider) as Arc<dyn ToolProvider>)
    })
}

inventory::submit! {
    ToolProviderFactory {
        name: "plugin",
        description: "tools from a dynamically loaded plugin (a shared library implementing the codemode plugin ABI)",
        check: accept_settings,
        create,
    }
}
