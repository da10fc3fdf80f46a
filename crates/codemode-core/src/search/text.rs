//! Text to search terms: identifiers split into words, lower case, stop words dropped,
//! English stems; runs of CJK characters become overlapping pairs.

use std::collections::HashSet;
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Words too common to tell tools apart, one list for queries and documents.
const STOPWORDS: &str = include_str!("stopwords.txt");

fn stopwords() -> &'static HashSet<&'static str> {
    static WORDS: OnceLock<HashSet<&'static str>> = OnceLock::new();
    WORDS.get_or_init(|| STOPWORDS.split_whitespace().collect())
}

fn stemmer() -> &'static Stemmer {
    static STEMMER: OnceLock<Stemmer> = OnceLock::new();
    STEMMER.get_or_init(|| Stemmer::create(Algorithm::English))
}

/// Characters written without spaces between words (Han, kana, Hangul): no word splitting
/// is possible without a dictionary, so such runs are indexed by overlapping pairs.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF)   // CJK Compatibility Ideographs
}

/// Appends the search terms of `text` to `out`.
///
/// `getStationCode`, `get_station_code`, `get-station-code` and "get station codes" all give
/// `station`, `code` (`get` is a stop word); `HTMLParser` gives `html`, `parser`.
pub(crate) fn terms_into(text: &str, out: &mut Vec<String>) {
    let mut word = String::new();
    let mut prev: Option<char> = None;
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if is_cjk(c) {
            push_word(&mut word, out);
            if let Some(&next) = chars.get(i + 1).filter(|n| is_cjk(**n)) {
                out.push([c, next].iter().collect());
            } else if !prev.is_some_and(is_cjk) {
                out.push(c.to_string());
            }
        } else if c.is_alphanumeric() {
            let boundary = prev.is_some_and(|p| {
                // camelCase, and the last capital of an acronym before a lower-case letter.
                (p.is_lowercase() && c.is_uppercase())
                    || (p.is_uppercase()
                        && c.is_uppercase()
                        && chars.get(i + 1).is_some_and(|n| n.is_lowercase()))
            });
            if boundary {
                push_word(&mut word, out);
            }
            word.extend(c.to_lowercase());
        } else {
            push_word(&mut word, out);
        }
        prev = Some(c);
    }
    push_word(&mut word, out);
}

/// The search terms of `text`.
pub(crate) fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    terms_into(text, &mut out);
    out
}

fn push_word(word: &mut String, out: &mut Vec<String>) {
    if word.is_empty() {
        return;
    }
    let keep = word.chars().count() > 1 || word.chars().all(|c| c.is_ascii_digit());
    if keep && !stopwords().contains(word.as_str()) {
        out.push(stemmer().stem(word).into_owned());
    }
    word.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_split_into_stemmed_words() {
        assert_eq!(terms("getStationCode"), ["station", "code"]);
        assert_eq!(terms("get-station-codes"), ["station", "code"]);
        assert_eq!(terms("mcp_howtocook_whatToEat"), ["mcp", "howtocook", "eat"]);
        assert_eq!(terms("HTMLParser"), ["html", "parser"]);
        assert_eq!(terms("Searching the papers, x 42"), ["search", "paper", "42"]);
    }

    #[test]
    fn cjk_runs_become_overlapping_pairs() {
        assert_eq!(terms("搜索关键词"), ["搜索", "索关", "关键", "键词"]);
        assert_eq!(terms("用 bing 搜"), ["用", "bing", "搜"]);
    }
}
