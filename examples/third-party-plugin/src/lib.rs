//! Example third-party plugins for codemode, registered with the registry of `codemode-traits`
//! when this crate is linked into a binary (`cargo xtask dist --plugin-path ...`):
//!
//! - the LLM provider `command`: any program as the model. It gets the request as JSON on
//!   stdin (`{"role", "step", "messages": [{"role", "content"}], "max_output_tokens"}`) and
//!   answers on stdout; a local model's CLI, a wrapper around a vendor's SDK, a script:
//!
//!   ```toml
//!   [llm.main]
//!   provider = "command"
//!   command = ["./my-model.sh", "--fast"]   # relative to codemode.toml
//!   timeout_secs = 120
//!   ```
//!
//! - the tool provider `units`: unit conversion (length, mass, temperature, time):
//!
//!   ```toml
//!   [tool_providers.units]
//!   provider = "units"
//!   ```

mod command_llm;
mod units;

pub use command_llm::{CommandLlm, CommandLlmError, CommandSettings};
pub use units::{UnitError, UnitTools, convert};
