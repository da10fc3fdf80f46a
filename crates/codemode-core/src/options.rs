//! `RunOptions`: the query and the limits of one run.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The query and limits of a run. Times are in seconds, as in the configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunOptions {
    /// What the user asked.
    pub query: String,
    /// Most tool calls one program may make.
    pub max_tool_calls: usize,
    /// Wall-clock limit for executing the program, in seconds.
    pub total_execution_timeout: f64,
    /// Limit for each tool call, in seconds.
    pub tool_call_timeout: f64,
    /// Budget of time the program may spend computing, in seconds; waiting for tool calls
    /// is not charged. `None`: the same as `total_execution_timeout`.
    pub cpu_time_limit: Option<f64>,
    /// Most repair rounds after failed type checks.
    pub max_repairs: u32,
    /// Tools shown to the tiny model per prompt.
    pub max_tools_per_prompt: usize,
    /// Filter prompts in flight at once.
    pub max_concurrent_threads: usize,
    /// Memory cap for the program, in MiB.
    pub memory_limit_mb: u64,
    /// Where to write every prompt and response (API keys and tokens redacted).
    pub log_dir: Option<PathBuf>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            query: String::new(),
            max_tool_calls: 100,
            total_execution_timeout: 60.0,
            tool_call_timeout: 30.0,
            cpu_time_limit: None,
            max_repairs: 2,
            max_tools_per_prompt: 20,
            max_concurrent_threads: 5,
            memory_limit_mb: 256,
            log_dir: None,
        }
    }
}

impl RunOptions {
    /// Options for `query` with default limits.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            ..Self::default()
        }
    }

    /// Sets `max_tool_calls`.
    pub fn max_tool_calls(mut self, n: usize) -> Self {
        self.max_tool_calls = n;
        self
    }

    /// Sets `total_execution_timeout` in seconds.
    pub fn total_execution_timeout(mut self, seconds: f64) -> Self {
        self.total_execution_timeout = seconds;
        self
    }

    /// Sets `tool_call_timeout` in seconds.
    pub fn tool_call_timeout(mut self, seconds: f64) -> Self {
        self.tool_call_timeout = seconds;
        self
    }

    /// Sets `cpu_time_limit` in seconds.
    pub fn cpu_time_limit(mut self, seconds: f64) -> Self {
        self.cpu_time_limit = Some(seconds);
        self
    }

    /// Sets `max_repairs`.
    pub fn max_repairs(mut self, n: u32) -> Self {
        self.max_repairs = n;
        self
    }

    /// Sets `max_tools_per_prompt`.
    pub fn max_tools_per_prompt(mut self, n: usize) -> Self {
        self.max_tools_per_prompt = n;
        self
    }

    /// Sets `max_concurrent_threads`.
    pub fn max_concurrent_threads(mut self, n: usize) -> Self {
        self.max_concurrent_threads = n;
        self
    }

    /// Sets the prompt log directory.
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// Checks that every limit is usable; the message names the option to fix.
    pub fn validate(&self) -> Result<(), String> {
        let positive = |name: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(format!("{name} must be a positive number of seconds, got {v}"))
            }
        };
        positive("total_execution_timeout", self.total_execution_timeout)?;
        positive("tool_call_timeout", self.tool_call_timeout)?;
        if let Some(cpu) = self.cpu_time_limit {
            positive("cpu_time_limit", cpu)?;
        }
        if self.max_tools_per_prompt == 0 {
            return Err("max_tools_per_prompt must be at least 1".into());
        }
        if self.max_concurrent_threads == 0 {
            return Err("max_concurrent_threads must be at least 1".into());
        }
        if self.memory_limit_mb < 16 {
            return Err("memory_limit_mb must be at least 16".into());
        }
        Ok(())
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
