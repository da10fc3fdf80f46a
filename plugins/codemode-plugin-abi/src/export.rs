//! The `export_*!` macros: a plugin type behind the C ABI, with its entry point.

use crate::ABI_VERSION;
use crate::messages::{Description, PluginKind};

/// Exports one plugin of a kind; used by the `export_*!` macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    ($dispatch:ty, $kind:expr, $name:expr, $description:expr) => {
        const _: () = {
            use ::std::ffi::{c_char, c_void};

            unsafe extern "C" fn describe() -> *const c_char {
                static DESCRIPTION: ::std::sync::OnceLock<::std::ffi::CString> = ::std::sync::OnceLock::new();
                DESCRIPTION
                    .get_or_init(|| {
                        let text = $crate::__describe($kind, $name, $description, env!("CARGO_PKG_VERSION"));
                        ::std::ffi::CString::new(text).unwrap_or_default()
                    })
                    .as_ptr()
            }
            unsafe extern "C" fn create(config: *const c_char, error: *mut *mut c_char) -> *mut c_void {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::create::<$dispatch>(config, error) }
            }
            unsafe extern "C" fn call(
                instance: *mut c_void,
                request: *const c_char,
                host: *const $crate::HostCallbacks,
            ) -> *mut c_char {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::call::<$dispatch>(instance, request, host) }
            }
            unsafe extern "C" fn free_string(string: *mut c_char) {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::free_string(string) }
            }
            unsafe extern "C" fn destroy(instance: *mut c_void) {
                // SAFETY: the host follows the ABI.
                unsafe { $crate::support::destroy::<$dispatch>(instance) }
            }
            static VTABLE: $crate::PluginVTable = $crate::PluginVTable {
                abi_version: $crate::ABI_VERSION,
                describe,
                create,
                call,
                free_string,
                destroy,
            };
            /// The plugin's entry point.
            #[unsafe(no_mangle)]
            pub extern "C" fn codemode_plugin() -> *const $crate::PluginVTable {
                &VTABLE
            }
        };
    };
}

/// Exports a [`PluginToolProvider`](crate::PluginToolProvider) as a codemode plugin: `export_tool_provider!(Type,
/// "name", "description")` in the plugin's `cdylib` crate.
#[macro_export]
macro_rules! export_tool_provider {
    ($provider:ty, $name:expr, $description:expr) => {
        $crate::__export_plugin!(
            $crate::support::Tools<$provider>,
            $crate::PluginKind::ToolProvider,
            $name,
            $description
        );
    };
}

/// Exports a [`PluginLlm`](crate::PluginLlm) as a codemode plugin: `export_llm!(Type, "name", "description")`.
#[macro_export]
macro_rules! export_llm {
    ($llm:ty, $name:expr, $description:expr) => {
        $crate::__export_plugin!(
            $crate::support::Model<$llm>,
            $crate::PluginKind::Llm,
            $name,
            $description
        );
    };
}

/// Exports a [`PluginRunEnvironment`](crate::PluginRunEnvironment) as a codemode plugin: `export_run_environment!(Type,
/// "name", "description")`.
#[macro_export]
macro_rules! export_run_environment {
    ($environment:ty, $name:expr, $description:expr) => {
        $crate::__export_plugin!(
            $crate::support::Environment<$environment>,
            $crate::PluginKind::RunEnvironment,
            $name,
            $description
        );
    };
}

/// The description JSON of a plugin; used by the export macros.
#[doc(hidden)]
pub fn __describe(kind: PluginKind, name: &str, description: &str, version: &str) -> String {
    let description = Description {
        abi_version: ABI_VERSION,
        kind,
        name: name.to_string(),
        description: description.to_string(),
        plugin_version: version.to_string(),
    };
    serde_json::to_string(&description).unwrap_or_default()
}
