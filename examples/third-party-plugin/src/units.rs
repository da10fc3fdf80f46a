//! The `units` tool provider: unit conversion, computed in process.

use std::sync::Arc;

use async_trait::async_trait;
use codemode_traits::registry::{FactoryContext, ProviderFuture, ToolProviderFactory};
use codemode_traits::{CodeModeError, ToolError, ToolProvider, ToolSpec};
use serde_json::{Value, json};

/// A unit: its dimension and how to get to the dimension's base unit.
struct Unit {
    symbol: &'static str,
    dimension: &'static str,
    /// base = value * scale + offset
    scale: f64,
    offset: f64,
}

const fn unit(symbol: &'static str, dimension: &'static str, scale: f64) -> Unit {
    Unit {
        symbol,
        dimension,
        scale,
        offset: 0.0,
    }
}

const UNITS: &[Unit] = &[
    unit("mm", "length", 0.001),
    unit("cm", "length", 0.01),
    unit("m", "length", 1.0),
    unit("km", "length", 1000.0),
    unit("in", "length", 0.0254),
    unit("ft", "length", 0.3048),
    unit("mi", "length", 1609.344),
    unit("g", "mass", 0.001),
    unit("kg", "mass", 1.0),
    unit("lb", "mass", 0.453_592_37),
    unit("oz", "mass", 0.028_349_523_125),
    unit("s", "time", 1.0),
    unit("min", "time", 60.0),
    unit("h", "time", 3600.0),
    unit("day", "time", 86400.0),
    Unit {
        symbol: "C",
        dimension: "temperature",
        scale: 1.0,
        offset: 273.15,
    },
    Unit {
        symbol: "F",
        dimension: "temperature",
        scale: 5.0 / 9.0,
        offset: 273.15 - 32.0 * 5.0 / 9.0,
    },
    unit("K", "temperature", 1.0),
];

/// Why a conversion is not possible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// The unit is not known.
    #[error("unknown unit `{0}`; known: {known}", known = UNITS.iter().map(|u| u.symbol).collect::<Vec<_>>().join(", "))]
    Unknown(String),
    /// The units measure different things.
    #[error("cannot convert {from_dimension} (`{from}`) to {to_dimension} (`{to}`)")]
    Incompatible {
        /// The unit converted from.
        from: String,
        /// What it measures.
        from_dimension: &'static str,
        /// The unit converted to.
        to: String,
        /// What that measures.
        to_dimension: &'static str,
    },
}

fn find(symbol: &str) -> Result<&'static Unit, UnitError> {
    UNITS
        .iter()
        .find(|u| u.symbol == symbol)
        .ok_or_else(|| UnitError::Unknown(symbol.to_string()))
}

/// `value` in unit `from`, expressed in unit `to`.
pub fn convert(value: f64, from: &str, to: &str) -> Result<f64, UnitError> {
    let (a, b) = (find(from)?, find(to)?);
    if a.dimension != b.dimension {
        return Err(UnitError::Incompatible {
            from: from.into(),
            from_dimension: a.dimension,
            to: to.into(),
            to_dimension: b.dimension,
        });
    }
    Ok((value * a.scale + a.offset - b.offset) / b.scale)
}

/// The provider: `convert` and `list_units`.
#[derive(Debug, Default)]
pub struct UnitTools;

#[async_trait]
impl ToolProvider for UnitTools {
    async fn list_tools(&self) -> Result<Vec<ToolSpec>, ToolError> {
        let symbols: Vec<&str> = UNITS.iter().map(|u| u.symbol).collect();
        Ok(vec![
            ToolSpec::new(
                "convert",
                "Convert a quantity from one unit to another (length, mass, time, temperature)",
                json!({
                    "type": "object",
                    "properties": {
                        "value": {"type": "number", "description": "The quantity"},
                        "from": {"type": "string", "enum": symbols, "description": "Its unit"},
                        "to": {"type": "string", "enum": symbols, "description": "The unit wanted"}
                    },
                    "required": ["value", "from", "to"]
                }),
            )
            .with_output_schema(json!({
                "type": "object",
                "properties": {"value": {"type": "number"}, "unit": {"type": "string"}},
                "required": ["value", "unit"]
            })),
            ToolSpec::new(
                "list_units",
                "The units convert knows, by dimension",
                json!({"type": "object", "properties": {}}),
            ),
        ])
    }

    async fn call_tool(&self, name: &str, arguments: Value) -> Result<Value, ToolError> {
        match name {
            "convert" => {
                let value = arguments
                    .get("value")
                    .and_then(Value::as_f64)
                    .ok_or_else(|| ToolError::Failed("`value` must be a number".into()))?;
                let text = |key: &str| {
                    arguments
                        .get(key)
                        .and_then(Value::as_str)
                        .ok_or_else(|| ToolError::Failed(format!("`{key}` must be a unit symbol")))
                };
                let (from, to) = (text("from")?, text("to")?);
                let converted = convert(value, from, to).map_err(|e| ToolError::Failed(e.to_string()))?;
                Ok(json!({"value": converted, "unit": to}))
            }
            "list_units" => {
                let mut by_dimension: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
                for u in UNITS {
                    by_dimension.entry(u.dimension).or_default().push(u.symbol);
                }
                Ok(json!(by_dimension))
            }
            other => Err(ToolError::UnknownTool(other.to_string())),
        }
    }
}

/// The provider takes no settings: anything under `[tool_providers.NAME]` besides
/// `provider` is a mistake worth saying before anything starts.
fn check(context: &FactoryContext) -> Result<(), CodeModeError> {
    match &context.settings {
        Value::Object(map) if !map.is_empty() => Err(CodeModeError::Config(format!(
            "[tool_providers.{}] provider \"units\" takes no settings, found: {}",
            context.name,
            map.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
        _ => Ok(()),
    }
}

fn create(_context: FactoryContext) -> ProviderFuture {
    Box::pin(async { Ok(Arc::new(UnitTools) as Arc<dyn ToolProvider>) })
}

codemode_traits::inventory::submit! {
    ToolProviderFactory {
        name: "units",
        description: "unit conversion: length, mass, time, temperature (acme-codemode-plugins)",
        check,
        create,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_within_a_dimension() {
        assert!((convert(1.0, "mi", "km").unwrap() - 1.609_344).abs() < 1e-9);
        assert!((convert(100.0, "C", "F").unwrap() - 212.0).abs() < 1e-9);
        assert!((convert(0.0, "K", "C").unwrap() + 273.15).abs() < 1e-9);
        assert!((convert(90.0, "min", "h").unwrap() - 1.5).abs() < 1e-12);
    }

    #[test]
    fn mistakes_are_named() {
        assert!(matches!(convert(1.0, "kg", "m"), Err(UnitError::Incompatible { .. })));
        let unknown = convert(1.0, "parsec", "m").unwrap_err().to_string();
        assert!(unknown.contains("`parsec`") && unknown.contains("km"), "{unknown}");
    }
}
