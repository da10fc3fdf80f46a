//! Search keywords for a large catalog: before the search picks the tiny model's candidates,
//! the strategy model names, in words a tool description would use, what kind of tools the
//! request needs.
//!
//! A lexical search only finds tools whose words the request or the plan shares. On the
//! LiveMCPBench dev tasks about a third of the needed tools share no word with the request
//! at all ("find the painting ..." needs a museum's object search; "the earliest high-speed
//! train" needs ticket and station lookups), and a small planner's plan names the wrong
//! servers. The model knows that a painting hangs in a museum; one short answer brings
//! those words to the search.

use super::run::RunContext;
use crate::prompts;
use codemode_traits::{Llm, LlmRole, Message};

/// The longest answer asked for: one line of about a dozen words. A small model repeats a
/// phrase until its limit when let run (seen: "departure time" 60 times).
const KEYWORD_TOKENS: u32 = 40;
/// The most keywords kept.
const MAX_KEYWORDS: usize = 15;

/// The model's keywords for `query`, lowercased and without repeats; `None` when the model
/// fails or names none (the search then runs on the request and the plan, as without
/// keywords).
pub(super) async fn search_keywords(ctx: &RunContext<'_>, llm: &dyn Llm, query: &str) -> Option<String> {
    let user = prompts::render(prompts::SEARCH_KEYWORDS_USER, &[("query", query)]);
    let messages = vec![
        Message::system(prompts::SEARCH_KEYWORDS_SYSTEM),
        Message::user(user.trim_end()),
    ];
    match ctx
        .ask_brief(llm, LlmRole::Strategy, "keywords", messages, KEYWORD_TOKENS)
        .await
    {
        Ok(answer) => Some(keywords_in(&answer)).filter(|k| !k.is_empty()),
        Err(e) => {
            tracing::warn!(error = %e, "the model gave no search keywords; searching without them");
            None
        }
    }
}

/// The distinct words of `answer` (letters first, then letters, digits and dashes), at most
/// [`MAX_KEYWORDS`], lowercased and joined by spaces.
pub(super) fn keywords_in(answer: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let lower = answer.to_lowercase();
    for word in lower.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
        let word = word.trim_matches('-');
        if words.len() >= MAX_KEYWORDS {
            break;
        }
        if word.chars().next().is_some_and(char::is_alphabetic)
            && word.chars().count() > 1
            && !words.iter().any(|w| w == word)
        {
            words.push(word.to_string());
        }
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_distinct_lowercase_words_and_capped() {
        assert_eq!(
            keywords_in("Art museum painting gallery artwork art history art gallery, art museum"),
            "art museum painting gallery artwork history"
        );
        assert_eq!(keywords_in("1. route-planning / 2. bike\n- x"), "route-planning bike");
        let repeated = (0..40).map(|i| format!("word{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(keywords_in(&repeated).split(' ').count(), MAX_KEYWORDS);
        assert_eq!(keywords_in(""), "");
    }
}
