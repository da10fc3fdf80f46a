//! BM25F over the fields of a tool: each field's term counts are weighted and normalised by
//! the field's length before BM25's saturation, so a word in the name counts for more than
//! the same word deep in a long description.

use std::collections::HashMap;

use serde_json::Value;

use super::text::terms_into;
use super::{SearchHit, ToolIndex};
use crate::catalog::CatalogEntry;

/// BM25's term-frequency saturation.
const K1: f32 = 1.2;
/// How much a field's length normalises its counts (0: not at all, 1: fully).
const B: f32 = 0.75;
/// How deep the input schema is walked for parameter names and descriptions.
const SCHEMA_DEPTH: usize = 3;

/// The fields of a tool, in the order of [`FIELD_WEIGHTS`].
#[derive(Clone, Copy)]
enum Field {
    /// The tool's name (the path's last segment and the provider's name).
    Name,
    /// The namespace (the server or provider it comes from).
    Namespace,
    /// The description.
    Description,
    /// Parameter names, nested ones included.
    ParameterNames,
    /// Parameter descriptions.
    ParameterDescriptions,
}

const FIELDS: usize = 5;

/// The weight of a match in each field. Tuned on the LiveMCPBench dev tasks (recall@20):
/// the name counts three times the description, the namespace half again as much, and
/// parameters less; `cargo xtask bench` measures the result.
const FIELD_WEIGHTS: [f32; FIELDS] = [3.0, 1.5, 1.0, 0.7, 0.3];

/// A BM25F index over a catalog's tools.
#[derive(Debug, Default)]
pub struct Bm25Index {
    paths: Vec<String>,
    terms: HashMap<String, u32>,
    /// For each term: the tools it occurs in, with its weighted, length-normalised count.
    postings: Vec<Vec<(u32, f32)>>,
    /// For each term: its inverse document frequency.
    idf: Vec<f32>,
}

/// The terms of one tool, field by field.
struct ToolTerms {
    fields: [Vec<String>; FIELDS],
}

impl ToolTerms {
    fn of(entry: &CatalogEntry) -> Self {
        let mut fields: [Vec<String>; FIELDS] = Default::default();
        let segment = entry.path.rsplit('.').next().unwrap_or(&entry.path);
        terms_into(segment, &mut fields[Field::Name as usize]);
        if entry.spec.name != segment {
            // A real name that differs from its identifier (`get-tickets`) splits the same way;
            // only its extra words are added.
            let mut real = Vec::new();
            terms_into(&entry.spec.name, &mut real);
            let name = &mut fields[Field::Name as usize];
            for t in real {
                if !name.contains(&t) {
                    name.push(t);
                }
            }
        }
        terms_into(&entry.namespace, &mut fields[Field::Namespace as usize]);
        if let Some(d) = &entry.spec.description {
            terms_into(d, &mut fields[Field::Description as usize]);
        }
        let (mut names, mut descriptions) = (Vec::new(), Vec::new());
        schema_terms(&entry.spec.input_schema, SCHEMA_DEPTH, &mut names, &mut descriptions);
        fields[Field::ParameterNames as usize] = names;
        fields[Field::ParameterDescriptions as usize] = descriptions;
        Self { fields }
    }
}

/// Parameter names and descriptions of `schema`'s properties, `depth` levels down.
fn schema_terms(schema: &Value, depth: usize, names: &mut Vec<String>, descriptions: &mut Vec<String>) {
    if depth == 0 {
        return;
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            terms_into(name, names);
            if let Some(d) = prop.get("description").and_then(Value::as_str) {
                terms_into(d, descriptions);
            }
            schema_terms(prop, depth - 1, names, descriptions);
        }
    }
    if let Some(items) = schema.get("items") {
        schema_terms(items, depth - 1, names, descriptions);
    }
}

impl Bm25Index {
    /// Indexes `entries`.
    pub fn build<'a>(entries: impl IntoIterator<Item = &'a CatalogEntry>) -> Self {
        let tools: Vec<(String, ToolTerms)> = entries
            .into_iter()
            .map(|e| (e.path.clone(), ToolTerms::of(e)))
            .collect();
        let n = tools.len();
        let mut average = [0f32; FIELDS];
        for (_, t) in &tools {
            for (f, terms) in t.fields.iter().enumerate() {
                average[f] += terms.len() as f32;
            }
        }
        for a in &mut average {
            *a = (*a / n.max(1) as f32).max(1.0);
        }
        let mut index = Bm25Index {
            paths: Vec::with_capacity(n),
            ..Default::default()
        };
        let mut counts: HashMap<u32, f32> = HashMap::new();
        for (doc, (path, t)) in tools.into_iter().enumerate() {
            counts.clear();
            for (f, terms) in t.fields.iter().enumerate() {
                let norm = 1.0 - B + B * terms.len() as f32 / average[f];
                for term in terms {
                    let next = index.terms.len() as u32;
                    let id = *index.terms.entry(term.clone()).or_insert(next);
                    if id == next {
                        index.postings.push(Vec::new());
                    }
                    *counts.entry(id).or_default() += FIELD_WEIGHTS[f] / norm;
                }
            }
            for (&id, &tf) in &counts {
                index.postings[id as usize].push((doc as u32, tf));
            }
            index.paths.push(path);
        }
        index.idf = index
            .postings
            .iter()
            .map(|p| {
                let df = p.len() as f32;
                (1.0 + (n as f32 - df + 0.5) / (df + 0.5)).ln()
            })
            .collect();
        index
    }

    /// How many tools are indexed.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// Whether no tool is indexed.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// How many distinct terms are indexed.
    pub fn term_count(&self) -> usize {
        self.terms.len()
    }

    /// Bytes the index holds on the heap, roughly (paths, terms and postings).
    pub fn heap_bytes(&self) -> usize {
        let paths: usize = self.paths.iter().map(|p| p.capacity() + size_of::<String>()).sum();
        let terms: usize = self
            .terms
            .keys()
            .map(|t| t.capacity() + size_of::<String>() + size_of::<u32>() + 8)
            .sum();
        let postings: usize = self
            .postings
            .iter()
            .map(|p| p.capacity() * size_of::<(u32, f32)>() + size_of::<Vec<(u32, f32)>>())
            .sum();
        paths + terms + postings + self.idf.capacity() * size_of::<f32>()
    }
}

impl ToolIndex for Bm25Index {
    fn search(&self, text: &str, limit: usize) -> Vec<SearchHit> {
        let mut query = super::text::terms(text);
        query.sort_unstable();
        query.dedup();
        let mut scores = vec![0f32; self.paths.len()];
        let mut touched = Vec::new();
        for term in &query {
            let Some(&id) = self.terms.get(term) else { continue };
            let idf = self.idf[id as usize];
            for &(doc, tf) in &self.postings[id as usize] {
                let score = &mut scores[doc as usize];
                if *score == 0.0 {
                    touched.push(doc);
                }
                *score += idf * tf * (K1 + 1.0) / (tf + K1);
            }
        }
        let by_score = |a: &u32, b: &u32| {
            scores[*b as usize]
                .total_cmp(&scores[*a as usize])
                .then_with(|| a.cmp(b))
        };
        if touched.len() > limit && limit > 0 {
            touched.select_nth_unstable_by(limit - 1, by_score);
        }
        touched.truncate(limit);
        touched.sort_unstable_by(by_score);
        touched
            .into_iter()
            .map(|doc| SearchHit {
                path: self.paths[doc as usize].clone(),
                score: f64::from(scores[doc as usize]),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use crate::catalog::ToolCatalog;
    use crate::tool::{StaticToolProvider, ToolSpec};

    fn catalog() -> ToolCatalog {
        let mut catalog = ToolCatalog::new();
        let provider = Arc::new(StaticToolProvider::default());
        catalog.add_tools(
            "maps",
            provider.clone(),
            vec![
                ToolSpec::new(
                    "geocode_address",
                    "Turns a street address into coordinates",
                    json!({"type": "object", "properties": {"address": {"type": "string"}}}),
                ),
                ToolSpec::new(
                    "get-route-directions",
                    "Directions between two places, by car, bike or on foot",
                    json!({"type": "object", "properties": {
                        "origin": {"type": "string", "description": "Where the route starts"},
                        "mode": {"type": "string", "description": "driving, cycling or walking"}
                    }}),
                ),
            ],
        );
        catalog.add_tools(
            "files",
            provider,
            vec![
                ToolSpec::new("write_file", "Writes text to a file, creating it if needed", json!({})),
                ToolSpec::new("read_file", "Reads a file; mentions no route", json!({})),
            ],
        );
        catalog
    }

    #[test]
    fn the_name_outranks_the_description_and_stems_match() {
        let catalog = catalog();
        let paths = |text: &str| -> Vec<String> {
            catalog.search(text, 10).into_iter().map(|h| h.path).collect()
        };
        // `route` is in one name and one description: the name wins.
        assert_eq!(paths("route"), ["maps.get_route_directions", "files.read_file"]);
        // `writing files` stems to `write`, `file`.
        assert_eq!(paths("writing files")[0], "files.write_file");
        // Parameter descriptions count: `cycling` is only in one.
        assert_eq!(paths("cycling"), ["maps.get_route_directions"]);
        // Namespaces count.
        assert_eq!(paths("maps").len(), 2);
        assert!(paths("the of and").is_empty(), "stop words match nothing");
        assert!(paths("zebra").is_empty());
    }

    #[test]
    fn limits_and_ties_are_kept_in_path_order() {
        let catalog = catalog();
        let hits = catalog.search("file", 1);
        assert_eq!(hits.len(), 1);
        let all = catalog.search("file", 10);
        assert_eq!(all.len(), 2);
        assert!(all[0].score >= all[1].score);
        assert_eq!(hits[0], all[0]);
        assert!(catalog.search("file", 0).is_empty());
    }

    #[test]
    fn the_index_follows_the_catalog() {
        let mut catalog = catalog();
        assert_eq!(catalog.search_index().len(), 4);
        catalog.add_tools(
            "chat",
            Arc::new(StaticToolProvider::default()),
            vec![ToolSpec::new("send_message", "Posts to a channel", json!({}))],
        );
        assert_eq!(catalog.search("channel", 5)[0].path, "chat.send_message");
        let subset = catalog.subset(["files.write_file"]);
        assert_eq!(subset.search("file", 5).len(), 1);
        assert!(catalog.search_index().heap_bytes() > 0);
    }
}
