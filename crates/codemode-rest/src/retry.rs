//! Retries with exponential backoff and jitter: the one policy of codemode's HTTP clients
//! (the OpenAI-compatible model client and the cloud tool providers).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// When and how long to retry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (0: never retry).
    pub max_retries: u32,
    /// Delay before the first retry; doubles each time.
    pub base_delay: Duration,
    /// No single wait is longer than this, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The cloud tool providers' policy ([`crate::RestClient`]): 3 retries, 500 ms doubling,
    /// no wait over 10 s; a tool call should not stall the program for long.
    pub const TOOL_PROVIDER: RetryPolicy = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(10),
    };

    /// The wait before retry number `retry` (0-based): the server's `Retry-After` when it
    /// gave one, else `base_delay * 2^retry` with ±50 % jitter; capped at `max_delay`.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let wait = match retry_after {
            Some(d) => d,
            None => {
                let exp = self.base_delay.saturating_mul(1u32 << retry.min(16));
                exp.mul_f64(0.5 + jitter())
            }
        };
        wait.min(self.max_delay)
    }
}

/// A number in [0, 1) that differs between calls (no need for a cryptographic RNG).
fn jitter() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed) ^ seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// Parses a `Retry-After` header given in seconds.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let secs: f64 = value.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_caps() {
        let p = RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        for retry in 0..3 {
            let d = p.delay(retry, None).as_secs_f64();
            let nominal = 0.1 * f64::from(1u32 << retry);
            assert!(d >= nominal * 0.5 && d <= nominal * 1.5, "retry {retry}: {d}");
        }
        assert_eq!(p.delay(10, None), Duration::from_secs(1));
        assert_eq!(p.delay(0, Some(Duration::from_secs(5))), Duration::from_secs(1));
        assert_eq!(p.delay(0, Some(Duration::from_millis(200))), Duration::from_millis(200));
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
