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
        | 0xF900..=0xFAFF) // CJK Compatibility Ideographs
}

/// Calls `f` with each word of `text`, lower case, stop words and one-letter words left out
/// (digits stay): `getStationCode`, `get_station_code` and "get station code" all give
/// `station`, `code`; `HTMLParser` gives `html`, `parser`. A run of CJK characters gives
/// its overlapping pairs (a lone character, itself). Words are not stemmed: see [`stem`].
pub(crate) fn for_each_word(text: &str, mut f: impl FnMut(&str)) {
    let mut word = String::new();
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        if is_cjk(c) {
            emit(&mut word, &mut f);
            match next.filter(|n| is_cjk(*n)) {
                Some(n) => {
                    let pair: String = [c, n].iter().collect();
                    f(&pair);
                }
                None if !prev.is_some_and(is_cjk) => f(c.encode_utf8(&mut [0; 4])),
                None => {}
            }
        } else if c.is_alphanumeric() {
            let boundary = prev.is_some_and(|p| {
                // camelCase, and the last capital of an acronym before a lower-case letter.
                (p.is_lowercase() && c.is_uppercase())
                    || (p.is_uppercase() && c.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
            if boundary {
                emit(&mut word, &mut f);
            }
            word.extend(c.to_lowercase());
        } else {
            emit(&mut word, &mut f);
        }
        prev = Some(c);
    }
    emit(&mut word, &mut f);
}

fn emit(word: &mut String, f: &mut impl FnMut(&str)) {
    if word.is_empty() {
        return;
    }
    let mut chars = word.chars();
    let long = chars.next().is_some() && chars.next().is_some();
    if (long || word.chars().all(|c| c.is_ascii_digit())) && !stopwords().contains(word.as_str()) {
        f(word);
    }
    word.clear();
}

/// The English stem of a word from [`for_each_word`] (`searching` → `search`).
pub(crate) fn stem(word: &str) -> String {
    stemmer().stem(word).into_owned()
}

/// The stemmed search terms of `text`, in order, repeats kept.
pub(crate) fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(stem(w)));
    out
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
