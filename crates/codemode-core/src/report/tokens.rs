//! Token counts for models that report none: OpenAI's `o200k_base` encoding, offline.
//!
//! Counts from a model's own usage are always preferred; these stand in for a closure
//! model, a scripted one, or a server that leaves `usage` out, so a report's token usage
//! is never silently zero. Other tokenizers differ by a few percent.

use std::sync::OnceLock;

use tiktoken_rs::CoreBPE;

use codemode_traits::{Message, TokenUsage};

/// Tokens a chat format adds around each message (role and separators), as OpenAI counts them.
const TOKENS_PER_MESSAGE: u64 = 3;
/// Tokens that prime the answer after the last message.
const TOKENS_PER_REPLY: u64 = 3;

fn encoding() -> Option<&'static CoreBPE> {
    static ENCODING: OnceLock<Option<CoreBPE>> = OnceLock::new();
    ENCODING
        .get_or_init(|| match tiktoken_rs::o200k_base() {
            Ok(bpe) => Some(bpe),
            Err(e) => {
                tracing::warn!(error = %e, "the o200k_base encoding cannot be loaded; counting 4 characters per token");
                None
            }
        })
        .as_ref()
}

/// The `o200k_base` tokens of `text` (special tokens count as text).
pub fn count_tokens(text: &str) -> u64 {
    match encoding() {
        Some(bpe) => bpe.encode_ordinary(text).len() as u64,
        None => text.chars().count().div_ceil(4) as u64,
    }
}

/// The tokens of a prompt: every message's content plus the chat format's overhead.
pub fn count_prompt_tokens(messages: &[Message]) -> u64 {
    messages
        .iter()
        .map(|m| count_tokens(&m.content) + TOKENS_PER_MESSAGE)
        .sum::<u64>()
        + TOKENS_PER_REPLY
}

/// `usage` of one model call, counted here (o200k) when the model reported none: the
/// prompt `messages` and the `answer` text; the call is marked as counted.
pub fn count_unreported(usage: &mut TokenUsage, messages: &[Message], answer: &str) {
    if usage.prompt_tokens == 0 && usage.completion_tokens == 0 {
        usage.prompt_tokens = count_prompt_tokens(messages);
        usage.completion_tokens = count_tokens(answer);
        usage.calls = usage.calls.max(1);
        usage.counted_calls = usage.calls;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_match_o200k() {
        // "hello world" is two o200k tokens; each message adds 3, the reply 3.
        assert_eq!(count_tokens("hello world"), 2);
        assert_eq!(count_tokens(""), 0);
        let prompt = [Message::system("hello world"), Message::user("hello world")];
        assert_eq!(count_prompt_tokens(&prompt), 2 + 3 + 2 + 3 + 3);
    }
}
