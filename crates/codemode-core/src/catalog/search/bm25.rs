//! BM25F over the fields of a tool: each field's term counts are weighted and normalised by
//! the field's length before BM25's saturation, so a word in the name counts for more than
//! the same word deep in a long description.

use std::collections::HashMap;

use serde_json::Value;

use super::text::{for_each_word, stem};
use super::{SearchHit, ToolIndex};
use crate::catalog::CatalogEntry;

/// BM25's term-frequency saturation.
const K1: f32 = 1.2;

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

/// How much each field's length normalises its counts (0: not at all, 1: fully), in the
/// order of [`FIELD_WEIGHTS`]. Descriptions are normalised fully: a 2,000-character
/// description ("REQUIRED FIRST STEP: ... You MUST use this tool ...") shares a few words
/// with almost any request and, normalised only in part, such tools crowded the top of
/// every ranking (recall@20 on the dev tasks 0.77 -> 0.81).
const FIELD_B: [f32; FIELDS] = [0.75, 0.75, 1.0, 0.75, 1.0];

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

/// Words to term ids while an index is built: each distinct word is stemmed once.
struct Vocabulary<'i> {
    index: &'i mut Bm25Index,
    words: HashMap<String, u32>,
}

impl Vocabulary<'_> {
    /// Appends the term ids of `text`'s words to `out`.
    fn add(&mut self, text: &str, out: &mut Vec<u32>) {
        for_each_word(text, |word| {
            let id = match self.words.get(word) {
                Some(&id) => id,
                None => {
                    let term = stem(word);
                    let id = match self.index.terms.get(&term) {
                        Some(&id) => id,
                        None => {
                            let id = self.index.postings.len() as u32;
                            self.index.terms.insert(term, id);
                            self.index.postings.push(Vec::new());
                            id
                        }
                    };
                    self.words.insert(word.to_string(), id);
                    id
                }
            };
            out.push(id);
        });
    }

    /// The term ids of one tool, field by field (in the order of [`FIELD_WEIGHTS`]).
    fn tool(&mut self, entry: &CatalogEntry) -> [Vec<u32>; FIELDS] {
        let mut fields: [Vec<u32>; FIELDS] = Default::default();
        let segment = entry.path.rsplit('.').next().unwrap_or(&entry.path);
        let name = &mut fields[Field::Name as usize];
        self.add(segment, name);
        if entry.spec.name != segment {
            // A real name that differs from its identifier (`get-tickets`) adds only the
            // words the identifier lacks.
            let mut real = Vec::new();
            self.add(&entry.spec.name, &mut real);
            for id in real {
                if !name.contains(&id) {
                    name.push(id);
                }
            }
        }
        self.add(&entry.namespace, &mut fields[Field::Namespace as usize]);
        if let Some(d) = &entry.spec.description {
            self.add(d, &mut fields[Field::Description as usize]);
        }
        let (mut names, mut descriptions) = (Vec::new(), Vec::new());
        self.schema(&entry.spec.input_schema, SCHEMA_DEPTH, &mut names, &mut descriptions);
        fields[Field::ParameterNames as usize] = names;
        fields[Field::ParameterDescriptions as usize] = descriptions;
        fields
    }

    /// Parameter names and descriptions of `schema`'s properties, `depth` levels down.
    fn schema(&mut self, schema: &Value, depth: usize, names: &mut Vec<u32>, descriptions: &mut Vec<u32>) {
        if depth == 0 {
            return;
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, prop) in props {
                self.add(name, names);
                if let Some(d) = prop.get("description").and_then(Value::as_str) {
                    self.add(d, descriptions);
                }
                self.schema(prop, depth - 1, names, descriptions);
            }
        }
        if let Some(items) = schema.get("items") {
            self.schema(items, depth - 1, names, descriptions);
        }
    }
}

impl Bm25Index {
    /// Indexes `entries`.
    pub fn build<'a>(entries: impl IntoIterator<Item = &'a CatalogEntry>) -> Self {
        let mut index = Bm25Index::default();
        let mut tools: Vec<[Vec<u32>; FIELDS]> = Vec::new();
        {
            let mut vocabulary = Vocabulary {
                index: &mut index,
                words: HashMap::new(),
            };
            let mut paths = Vec::new();
            for entry in entries {
                tools.push(vocabulary.tool(entry));
                paths.push(entry.path.clone());
            }
            vocabulary.index.paths = paths;
        }
        let n = tools.len();
        let mut average = [0f32; FIELDS];
        for fields in &tools {
            for (f, ids) in fields.iter().enumerate() {
                average[f] += ids.len() as f32;
            }
        }
        for a in &mut average {
            *a = (*a / n.max(1) as f32).max(1.0);
        }
        let mut counts: HashMap<u32, f32> = HashMap::new();
        for (doc, fields) in tools.into_iter().enumerate() {
            counts.clear();
            for (f, ids) in fields.iter().enumerate() {
                let norm = 1.0 - FIELD_B[f] + FIELD_B[f] * ids.len() as f32 / average[f];
                for &id in ids {
                    *counts.entry(id).or_default() += FIELD_WEIGHTS[f] / norm;
                }
            }
            for (&id, &tf) in &counts {
                index.postings[id as usize].push((doc as u32, tf));
            }
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
    use codemode_traits::{StaticToolProvider, ToolSpec};

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
        let paths = |text: &str| -> Vec<String> { catalog.search(text, 10).into_iter().map(|h| h.path).collect() };
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
