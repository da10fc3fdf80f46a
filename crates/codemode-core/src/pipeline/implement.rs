//! Step 4, **implement**: the main model writes a TypeScript program against the
//! declarations, following the plan.

use super::run::{RunContext, StepFailure};
use crate::prompts;
use codemode_traits::{Llm, Message};

/// The program the main model wrote and the conversation it came from (repairs continue it).
pub(super) struct Implementation {
    /// The program, as extracted from the answer.
    pub code: String,
    /// System prompt, request and the model's answer.
    pub conversation: Vec<Message>,
}

/// How many messages open the main model's conversation (the rules, the worked example and
/// the request): a fresh conversation for a repair starts with these.
pub(super) const OPENING_MESSAGES: usize = 4;

/// The opening of `conversation` (rules, worked example, request): where a fresh
/// conversation starts when a repair sent the same program back.
pub(super) fn opening(conversation: &[Message]) -> Vec<Message> {
    conversation.iter().take(OPENING_MESSAGES).cloned().collect()
}

/// Asks the main model for a program.
pub(super) async fn implement(
    ctx: &RunContext<'_>,
    main: &dyn Llm,
    query: &str,
    plan: &str,
    declarations: &str,
) -> Result<Implementation, StepFailure> {
    let user = prompts::render(
        prompts::IMPLEMENT_USER,
        &[
            ("declarations", declarations.trim_end()),
            ("query", query),
            ("plan", plan),
        ],
    );
    let mut conversation = vec![
        Message::system(prompts::IMPLEMENT_SYSTEM),
        Message::user(prompts::IMPLEMENT_EXAMPLE_USER),
        Message::assistant(prompts::IMPLEMENT_EXAMPLE_ASSISTANT),
        Message::user(user),
    ];
    debug_assert_eq!(conversation.len(), OPENING_MESSAGES);
    let code = ctx.ask_program(main, "implement", &mut conversation).await?;
    Ok(Implementation { code, conversation })
}
