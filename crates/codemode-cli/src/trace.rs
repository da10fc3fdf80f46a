//! Traces of a command: the spans codemode opens (`run`, `step`, `model_call`, `tool_call`,
//! nested in that order, with their fields: step, role, model, tokens, tool path, error) and
//! how long each took.
//!
//! `--trace FILE` writes one JSON object per span as it closes (innermost first), for those
//! without a collector. `--otlp URL` (feature `otlp`) sends them, when the command ends, to an
//! OpenTelemetry collector as OTLP/HTTP JSON (`POST URL/v1/traces`).

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Metadata, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// One closed span.
#[derive(Debug, Clone, Serialize)]
pub struct SpanRecord {
    /// `run`, `step`, `model_call` or `tool_call`.
    pub name: String,
    /// 32 hex digits, shared by a run and everything under it.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// The enclosing span, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// When it started, in nanoseconds since the Unix epoch.
    pub start_unix_ns: u128,
    /// How long it was open, in milliseconds.
    pub duration_ms: f64,
    /// Its fields, e.g. `{"step": "plan"}`, `{"path": "workspace.list_channels"}`.
    pub fields: Map<String, Value>,
}

/// A span that is still open (kept in the registry's extensions).
struct Open {
    record: SpanRecord,
    started: Instant,
}

/// Where closed spans go.
#[derive(Default)]
struct Sinks {
    file: Option<Mutex<std::fs::File>>,
    collected: Option<Mutex<Vec<SpanRecord>>>,
}

/// What `--trace` and `--otlp` need after the command: the spans to send.
#[derive(Clone, Default)]
pub struct Traces {
    sinks: Arc<Sinks>,
    #[cfg_attr(not(feature = "otlp"), allow(dead_code))]
    otlp: Option<String>,
}

impl Traces {
    /// Spans written to `file` (created or truncated) and/or collected for `otlp`.
    pub fn new(file: Option<&Path>, otlp: Option<String>) -> std::io::Result<Self> {
        let file = file.map(std::fs::File::create).transpose()?.map(Mutex::new);
        let collected = otlp.as_ref().map(|_| Mutex::new(Vec::new()));
        Ok(Self {
            sinks: Arc::new(Sinks { file, collected }),
            otlp,
        })
    }

    /// Whether anything is traced.
    pub fn enabled(&self) -> bool {
        self.sinks.file.is_some() || self.sinks.collected.is_some()
    }

    /// The layer that records codemode's spans.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        TraceLayer {
            sinks: self.sinks.clone(),
        }
        .with_filter(tracing_subscriber::filter::filter_fn(is_codemode_span))
    }

    /// Sends the collected spans to the OTLP collector, when one was given.
    #[cfg(feature = "otlp")]
    pub async fn export(&self) -> anyhow::Result<()> {
        let (Some(url), Some(collected)) = (&self.otlp, &self.sinks.collected) else {
            return Ok(());
        };
        let spans = collected.lock().map(|s| s.clone()).unwrap_or_default();
        let endpoint = if url.trim_end_matches('/').ends_with("/v1/traces") {
            url.clone()
        } else {
            format!("{}/v1/traces", url.trim_end_matches('/'))
        };
        let client = codemode_rest::http_client().build()?;
        let response = client.post(&endpoint).json(&otlp_json(&spans)).send().await?;
        if !response.status().is_success() {
            anyhow::bail!("the OTLP collector at {endpoint} answered {}", response.status());
        }
        Ok(())
    }
}

fn is_codemode_span(metadata: &Metadata<'_>) -> bool {
    metadata.is_span() && metadata.target().starts_with("codemode")
}

struct TraceLayer {
    sinks: Arc<Sinks>,
}

/// Span and trace ids: unique within the process, different between processes.
fn next_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    static BASE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let base = *BASE.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        nanos ^ (u64::from(std::process::id()) << 40)
    });
    base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// Field values as JSON.
struct Fields<'a>(&'a mut Map<String, Value>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}").into());
    }
}

impl<S> Layer<S> for TraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent().and_then(|p| {
            p.extensions()
                .get::<Open>()
                .map(|o| (o.record.trace_id.clone(), o.record.span_id.clone()))
        });
        let (trace_id, parent_id) = match parent {
            Some((trace, parent)) => (trace, Some(parent)),
            None => (format!("{:016x}{:016x}", next_id(), next_id()), None),
        };
        let mut fields = Map::new();
        attrs.record(&mut Fields(&mut fields));
        let start_unix_ns = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        span.extensions_mut().insert(Open {
            record: SpanRecord {
                name: attrs.metadata().name().to_string(),
                trace_id,
                span_id: format!("{:016x}", next_id()),
                parent_id,
                start_unix_ns,
                duration_ms: 0.0,
                fields,
            },
            started: Instant::now(),
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(open) = span.extensions_mut().get_mut::<Open>()
        {
            values.record(&mut Fields(&mut open.record.fields));
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let Some(open) = span.extensions_mut().remove::<Open>() else {
            return;
        };
        let mut record = open.record;
        record.duration_ms = open.started.elapsed().as_secs_f64() * 1000.0;
        if let Some(file) = &self.sinks.file
            && let (Ok(mut file), Ok(line)) = (file.lock(), serde_json::to_string(&record))
        {
            let _ = writeln!(file, "{line}");
        }
        if let Some(collected) = &self.sinks.collected
            && let Ok(mut collected) = collected.lock()
        {
            collected.push(record);
        }
    }
}

/// The spans as an OTLP/HTTP JSON `ExportTraceServiceRequest`.
#[cfg_attr(not(feature = "otlp"), allow(dead_code))]
pub fn otlp_json(spans: &[SpanRecord]) -> Value {
    let attribute = |key: &str, value: &Value| {
        let value = match value {
            Value::Bool(b) => serde_json::json!({"boolValue": b}),
            Value::Number(n) if n.is_i64() || n.is_u64() => serde_json::json!({"intValue": n.to_string()}),
            Value::Number(n) => serde_json::json!({"doubleValue": n.as_f64()}),
            Value::String(s) => serde_json::json!({"stringValue": s}),
            other => serde_json::json!({"stringValue": other.to_string()}),
        };
        serde_json::json!({"key": key, "value": value})
    };
    let spans: Vec<Value> = spans
        .iter()
        .map(|s| {
            let end = s.start_unix_ns + (s.duration_ms * 1e6) as u128;
            let mut span = serde_json::json!({
                "traceId": s.trace_id,
                "spanId": s.span_id,
                "name": s.name,
                "kind": 1,
                "startTimeUnixNano": s.start_unix_ns.to_string(),
                "endTimeUnixNano": end.to_string(),
                "attributes": s.fields.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
            });
            if let Some(parent) = &s.parent_id {
                span["parentSpanId"] = parent.clone().into();
            }
            if let Some(error) = s.fields.get("error") {
                span["status"] = serde_json::json!({"code": 2, "message": error.as_str().unwrap_or_default()});
            }
            span
        })
        .collect();
    serde_json::json!({
        "resourceSpans": [{
            "resource": {"attributes": [attribute("service.name", &Value::from("codemode"))]},
            "scopeSpans": [{"scope": {"name": "codemode", "version": env!("CARGO_PKG_VERSION")}, "spans": spans}],
        }]
    })
}
