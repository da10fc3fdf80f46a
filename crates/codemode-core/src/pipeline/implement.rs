//! Step 4, **implement**: the main model writes a TypeScript program against the
//! declarations, following the plan.

use super::run::{RunContext, StepFailure};
use crate::llm::{Llm, Message};
use crate::prompts;

/// The program the main model wrote and the conversation it came from (repairs continue it).
pub(super) struct Implementation {
    /// The program, as extracted from the answer.
    pub code: String,
    /// System prompt, request and the model's answer.
    pub conversation: Vec<Message>,
}

/// Asks the main model for a program.
pub(super) async fn implement(
    ctx: &RunContext<'_>,
    main: &dyn Llm,
    query: &str,
    plan: &str,
    declarations: &str,
) -> Result<Implementation, StepFailure> {
    let system = prompts::render(prompts::IMPLEMENT_SYSTEM, &[("declarations", declarations.trim_end())]);
    let user = prompts::render(prompts::IMPLEMENT_USER, &[("query", query), ("plan", plan)]);
    let mut conversation = vec![Message::system(system), Message::user(user)];
    let code = ctx.ask_program(main, "implement", &mut conversation).await?;
    Ok(Implementation { code, conversation })
}
