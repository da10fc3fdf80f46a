//! Console output of a run, capped.

/// Collects console lines up to a byte cap; later output is dropped and marked once.
#[derive(Debug, Default)]
pub struct ConsoleCapture {
    lines: Vec<String>,
    bytes: usize,
    truncated: bool,
    max_bytes: usize,
}

impl ConsoleCapture {
    /// A capture that keeps at most `max_bytes` bytes.
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            ..Self::default()
        }
    }

    /// Adds one line; `log` and `info` are kept as is, other levels get a `[level]` prefix.
    pub fn console(&mut self, level: &str, text: String) {
        if self.truncated {
            return;
        }
        let line = if level == "log" || level == "info" {
            text
        } else {
            format!("[{level}] {text}")
        };
        if self.bytes + line.len() > self.max_bytes {
            self.truncated = true;
            self.lines
                .push(format!("[console output truncated after {} bytes]", self.max_bytes));
            return;
        }
        self.bytes += line.len();
        self.lines.push(line);
    }

    /// The lines collected.
    pub fn into_lines(self) -> Vec<String> {
        self.lines
    }
}
