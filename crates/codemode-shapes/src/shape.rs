//! The shape of a JSON value, and how shapes merge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Nesting past this depth is [`Shape::Any`].
pub const MAX_DEPTH: usize = 8;
/// An object with more properties than this is read as a dictionary ([`Shape::Map`]).
pub const MAX_PROPERTIES: usize = 48;
/// Elements of one array looked at; the rest are assumed to be like them.
const MAX_ELEMENTS: usize = 500;
/// Nodes a shape may have; a bigger one loses its deepest levels.
const MAX_NODES: usize = 1_500;
/// Characters of a property name past which the name reads as data, not as a field.
const MAX_KEY_CHARS: usize = 40;

/// The type of a JSON value, without the value: what a tool's results looked like.
///
/// Strings and numbers keep no values (a learned type never holds data from a result), so
/// there are no literal types: `"ok"` and `"failed"` are both `string`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Shape {
    /// Nothing known (too deep, or never seen): typed `any`.
    Any,
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// Any number.
    Number,
    /// Any string.
    String,
    /// An array; `items` is `None` while every array seen was empty.
    Array {
        /// The elements, merged.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<Box<Shape>>,
    },
    /// An object with named fields.
    Object {
        /// How many objects were merged into this one.
        seen: u64,
        /// Each field and how many of those objects had it: fewer than `seen` makes it optional.
        properties: BTreeMap<String, Property>,
        /// Results disagreed on the fields (a query tool whose rows depend on the query):
        /// fields never seen are allowed too, typed `any`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        open: bool,
    },
    /// An object used as a dictionary: its keys are data (paths, dates, ids), or too many.
    Map {
        /// The values, merged.
        values: Box<Shape>,
    },
    /// Values of different kinds, at most one variant per kind.
    Union {
        /// The variants, in kind order.
        variants: Vec<Shape>,
    },
}

/// One field of an [`Shape::Object`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Property {
    /// How many of the merged objects had this field.
    pub seen: u64,
    /// Its values, merged.
    pub shape: Shape,
}

/// The kinds a union keeps apart (an object and a dictionary are one kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Null,
    Boolean,
    Number,
    String,
    Array,
    Object,
}

impl Shape {
    /// The shape of `value`.
    pub fn of(value: &Value) -> Shape {
        Self::of_at(value, 0).bounded()
    }

    fn of_at(value: &Value, depth: usize) -> Shape {
        if depth > MAX_DEPTH {
            return Shape::Any;
        }
        match value {
            Value::Null => Shape::Null,
            Value::Bool(_) => Shape::Boolean,
            Value::Number(_) => Shape::Number,
            Value::String(_) => Shape::String,
            Value::Array(elements) => Shape::Array {
                items: elements
                    .iter()
                    .take(MAX_ELEMENTS)
                    .map(|e| Self::of_at(e, depth + 1))
                    .reduce(Shape::merge)
                    .map(Box::new),
            },
            Value::Object(map) => {
                if map.len() > MAX_PROPERTIES || map.keys().any(|k| key_is_data(k)) {
                    let values = map
                        .values()
                        .take(MAX_ELEMENTS)
                        .map(|v| Self::of_at(v, depth + 1))
                        .reduce(Shape::merge)
                        .unwrap_or(Shape::Any);
                    return Shape::Map {
                        values: Box::new(values),
                    };
                }
                Shape::Object {
                    seen: 1,
                    open: false,
                    properties: map
                        .iter()
                        .map(|(k, v)| {
                            let property = Property {
                                seen: 1,
                                shape: Self::of_at(v, depth + 1),
                            };
                            (k.clone(), property)
                        })
                        .collect(),
                }
            }
        }
    }

    /// One shape admitting both: a field missing from either becomes optional, different
    /// kinds become a union, arrays merge their elements, objects and dictionaries merge
    /// into a dictionary.
    pub fn merge(self, other: Shape) -> Shape {
        merge(self, other).bounded()
    }

    fn kind(&self) -> Option<Kind> {
        match self {
            Shape::Any | Shape::Union { .. } => None,
            Shape::Null => Some(Kind::Null),
            Shape::Boolean => Some(Kind::Boolean),
            Shape::Number => Some(Kind::Number),
            Shape::String => Some(Kind::String),
            Shape::Array { .. } => Some(Kind::Array),
            Shape::Object { .. } | Shape::Map { .. } => Some(Kind::Object),
        }
    }

    /// Whether `value` fits this shape as it is: merging it would not change the type.
    pub fn admits(&self, value: &Value) -> bool {
        self.clone().merge(Shape::of(value)).to_schema() == self.to_schema()
    }

    /// The shape as JSON Schema. Objects list their fields (closed: a field never seen is
    /// not there), dictionaries become `additionalProperties`, unknown parts `{}`. A field or
    /// element only ever seen as `null` is `{}` too: `null` says nothing about what it holds
    /// when it is set.
    pub fn to_schema(&self) -> Value {
        self.schema_at(0)
    }

    fn schema_at(&self, depth: usize) -> Value {
        let nested = |s: &Shape| s.schema_at(depth + 1);
        match self {
            Shape::Any => json!({}),
            Shape::Null if depth > 0 => json!({}),
            Shape::Null => json!({"type": "null"}),
            Shape::Boolean => json!({"type": "boolean"}),
            Shape::Number => json!({"type": "number"}),
            Shape::String => json!({"type": "string"}),
            Shape::Array { items: None } => json!({"type": "array"}),
            Shape::Array { items: Some(items) } => json!({"type": "array", "items": nested(items)}),
            Shape::Object { properties, .. } if properties.is_empty() => {
                json!({"type": "object", "additionalProperties": {}})
            }
            Shape::Object { seen, properties, open } => {
                let required: Vec<&String> = properties
                    .iter()
                    .filter(|(_, p)| p.seen >= *seen)
                    .map(|(k, _)| k)
                    .collect();
                let properties: serde_json::Map<String, Value> =
                    properties.iter().map(|(k, p)| (k.clone(), nested(&p.shape))).collect();
                if *open {
                    json!({"type": "object", "properties": properties, "required": required, "additionalProperties": {}})
                } else {
                    json!({"type": "object", "properties": properties, "required": required})
                }
            }
            Shape::Map { values } => json!({"type": "object", "additionalProperties": nested(values)}),
            // A variant is at the union's own depth: `string | null` keeps its `null`.
            Shape::Union { variants } => json!({"anyOf": variants
                .iter()
                .map(|v| match v {
                    Shape::Null => json!({"type": "null"}),
                    other => other.schema_at(depth),
                })
                .collect::<Vec<_>>()}),
        }
    }

    /// A short TypeScript-like summary for a listing line: `{name, size?}[]`, `string`.
    /// Objects show up to six field names; nesting past two levels is `{...}`.
    pub fn summary(&self) -> String {
        self.summary_at(0)
    }

    fn summary_at(&self, depth: usize) -> String {
        match self {
            Shape::Any => "any".into(),
            Shape::Null => "null".into(),
            Shape::Boolean => "boolean".into(),
            Shape::Number => "number".into(),
            Shape::String => "string".into(),
            Shape::Array { items: None } => "any[]".into(),
            Shape::Array { items: Some(items) } => {
                let inner = items.summary_at(depth + 1);
                if matches!(**items, Shape::Union { .. }) {
                    format!("({inner})[]")
                } else {
                    format!("{inner}[]")
                }
            }
            Shape::Object { .. } | Shape::Map { .. } if depth >= 2 => "{...}".into(),
            Shape::Object { seen, properties, open } => {
                let mut names: Vec<String> = properties
                    .iter()
                    .take(6)
                    .map(|(k, p)| {
                        let k = if key_is_identifier(k) {
                            k.clone()
                        } else {
                            serde_json::to_string(k).unwrap_or_default()
                        };
                        if p.seen >= *seen { k } else { format!("{k}?") }
                    })
                    .collect();
                if properties.len() > 6 || *open {
                    names.push("...".into());
                }
                format!("{{{}}}", names.join(", "))
            }
            Shape::Map { values } => format!("Record<string, {}>", values.summary_at(depth + 1)),
            Shape::Union { variants } => variants
                .iter()
                .map(|v| v.summary_at(depth))
                .collect::<Vec<_>>()
                .join(" | "),
        }
    }

    /// How many nodes the shape has.
    pub fn size(&self) -> usize {
        1 + match self {
            Shape::Array { items: Some(items) } => items.size(),
            Shape::Object { properties, .. } => properties.values().map(|p| p.shape.size()).sum(),
            Shape::Map { values } => values.size(),
            Shape::Union { variants } => variants.iter().map(Shape::size).sum(),
            _ => 0,
        }
    }

    /// The shape within [`MAX_NODES`]: deeper levels become `Any` until it fits.
    fn bounded(self) -> Shape {
        let mut shape = self;
        let mut depth = MAX_DEPTH;
        while shape.size() > MAX_NODES && depth > 0 {
            depth -= 1;
            shape = shape.cut_below(depth);
        }
        shape
    }

    fn cut_below(self, depth: usize) -> Shape {
        if depth == 0 {
            return match self {
                Shape::Null | Shape::Boolean | Shape::Number | Shape::String => self,
                _ => Shape::Any,
            };
        }
        match self {
            Shape::Array { items } => Shape::Array {
                items: items.map(|i| Box::new(i.cut_below(depth - 1))),
            },
            Shape::Object { seen, properties, open } => Shape::Object {
                seen,
                open,
                properties: properties
                    .into_iter()
                    .map(|(k, p)| {
                        let p = Property {
                            seen: p.seen,
                            shape: p.shape.cut_below(depth - 1),
                        };
                        (k, p)
                    })
                    .collect(),
            },
            Shape::Map { values } => Shape::Map {
                values: Box::new(values.cut_below(depth - 1)),
            },
            Shape::Union { variants } => Shape::Union {
                variants: variants.into_iter().map(|v| v.cut_below(depth)).collect(),
            },
            other => other,
        }
    }
}

fn merge(a: Shape, b: Shape) -> Shape {
    match (a, b) {
        (Shape::Any, _) | (_, Shape::Any) => Shape::Any,
        (Shape::Union { variants }, other) | (other, Shape::Union { variants }) => {
            let mut all = variants;
            match other {
                Shape::Union { variants } => {
                    for v in variants {
                        all = add_variant(all, v);
                    }
                }
                v => all = add_variant(all, v),
            }
            Shape::Union { variants: all }
        }
        (Shape::Array { items: a }, Shape::Array { items: b }) => Shape::Array {
            items: match (a, b) {
                (Some(a), Some(b)) => Some(Box::new(merge(*a, *b))),
                (a, b) => a.or(b),
            },
        },
        (
            Shape::Object {
                seen: seen_a,
                properties: mut props,
                open: open_a,
            },
            Shape::Object {
                seen: seen_b,
                properties: props_b,
                open: open_b,
            },
        ) => {
            let disagree = fields_disagree(&props, &props_b);
            for (key, b) in props_b {
                match props.remove(&key) {
                    Some(a) => {
                        let merged = Property {
                            seen: a.seen + b.seen,
                            shape: merge(a.shape, b.shape),
                        };
                        props.insert(key, merged);
                    }
                    None => {
                        props.insert(key, b);
                    }
                }
            }
            if props.len() > MAX_PROPERTIES {
                return Shape::Map {
                    values: Box::new(merged_values(props.into_values().map(|p| p.shape))),
                };
            }
            Shape::Object {
                seen: seen_a + seen_b,
                properties: props,
                open: open_a || open_b || disagree,
            }
        }
        (Shape::Map { values }, Shape::Object { properties, .. })
        | (Shape::Object { properties, .. }, Shape::Map { values }) => Shape::Map {
            values: Box::new(merged_values(
                std::iter::once(*values).chain(properties.into_values().map(|p| p.shape)),
            )),
        },
        (Shape::Map { values: a }, Shape::Map { values: b }) => Shape::Map {
            values: Box::new(merge(*a, *b)),
        },
        (a, b) if a.kind() == b.kind() => a,
        (a, b) => {
            let mut variants = vec![a, b];
            variants.sort_by_key(Shape::kind);
            Shape::Union { variants }
        }
    }
}

/// Whether two results' fields disagree: both have fields and they share fewer than half of
/// the smaller set. Rows of different queries, pages of different sites: what the next
/// result holds depends on the arguments, so fields never seen cannot be ruled out.
fn fields_disagree(a: &BTreeMap<String, Property>, b: &BTreeMap<String, Property>) -> bool {
    let smaller = a.len().min(b.len());
    if smaller == 0 {
        return false;
    }
    let shared = a.keys().filter(|k| b.contains_key(*k)).count();
    shared * 2 < smaller
}

/// The values of a dictionary, merged (`Any` for none).
fn merged_values(values: impl Iterator<Item = Shape>) -> Shape {
    values.reduce(merge).unwrap_or(Shape::Any)
}

/// `variants` with `shape` merged into the variant of its kind, or added.
fn add_variant(mut variants: Vec<Shape>, shape: Shape) -> Vec<Shape> {
    let kind = shape.kind();
    if let Some(i) = variants.iter().position(|v| v.kind() == kind) {
        let existing = variants.remove(i);
        variants.insert(i, merge(existing, shape));
    } else {
        variants.push(shape);
        variants.sort_by_key(Shape::kind);
    }
    variants
}

/// Whether an object key reads as data rather than a field name: empty, long, starting
/// with a digit, or holding characters field names do not (a path, a date, an address).
fn key_is_data(key: &str) -> bool {
    let Some(first) = key.chars().next() else {
        return true;
    };
    first.is_ascii_digit()
        || key.chars().count() > MAX_KEY_CHARS
        || !key
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '$')
}

fn key_is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

#[cfg(test)]
mod tests;
