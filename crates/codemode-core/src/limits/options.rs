//! `RunOptions`' builder methods and durations. The options themselves (the query and the
//! limits of one run) are generated from the table in [`crate::limits`].

use std::time::Duration;

use super::RunOptions;

impl RunOptions {
    /// Options for `query` with default limits.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            ..Self::default()
        }
    }

    /// Sets the prompt log directory.
    pub fn log_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    pub(crate) fn execution_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.total_execution_timeout)
    }

    pub(crate) fn cpu_time(&self) -> Duration {
        self.cpu_time_limit
            .map_or_else(|| self.execution_timeout(), Duration::from_secs_f64)
            .min(self.execution_timeout())
    }

    pub(crate) fn tool_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.tool_call_timeout)
    }
}
