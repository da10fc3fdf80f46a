//! What the steps of one run share: the prompt log and token counts ([`RunContext`]), how a
//! step fails ([`StepFailure`]), and the clock that times each step for the report and the
//! [`RunObserver`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::answer::{contains_program, extract_code};
use crate::promptlog::PromptLog;
use crate::prompts;
use crate::report::{ResultType, RunReport, Step, StepTiming};
use crate::tokens;
use codemode_traits::{Llm, LlmError, LlmRequest, LlmResponse, LlmRole, Message, Sampling, TokenUsage};

/// Per-run state shared by the steps.
pub(super) struct RunContext<'a> {
    /// Where prompts and answers are written, when asked.
    pub log: Option<PromptLog>,
    /// Tokens per role.
    pub usage: Mutex<BTreeMap<String, TokenUsage>>,
    /// Told when each step starts and ends.
    pub observer: Observer<'a>,
}

impl<'a> RunContext<'a> {
    pub(crate) fn new(log: Option<PromptLog>, observer: Observer<'a>) -> Self {
        Self {
            log,
            usage: Mutex::new(BTreeMap::new()),
            observer,
        }
    }

    /// One model call for an answer that needs at most `max_output_tokens` (a small model
    /// can repeat itself up to the server's limit: seen, 1,024 tokens and 36 s for a list of
    /// nine tools): logged when a prompt log is open, its tokens counted per role.
    pub(crate) async fn ask_brief(
        &self,
        llm: &dyn Llm,
        role: LlmRole,
        step: &str,
        messages: Vec<Message>,
        max_output_tokens: u32,
    ) -> Result<String, LlmError> {
        self.complete(llm, role, step, messages, Some(max_output_tokens), Sampling::Configured)
            .await
            .map(|r| r.text)
    }

    /// A model call whose answer must be whole (a program): an answer cut off at the
    /// model's token limit is never taken as the program. It is asked for once more,
    /// shorter; cut off again, the call fails with an error that says so.
    pub(crate) async fn ask_whole(
        &self,
        llm: &dyn Llm,
        role: LlmRole,
        step: &str,
        mut messages: Vec<Message>,
        sampling: Sampling,
    ) -> Result<String, LlmError> {
        let first = self.complete(llm, role, step, messages.clone(), None, sampling).await?;
        if !first.truncated {
            return Ok(first.text);
        }
        tracing::info!(%role, step, "the answer was cut off at the token limit; asking for a shorter one");
        messages.push(Message::assistant(opening_of(&first.text)));
        messages.push(Message::user(prompts::TRUNCATED_USER));
        let second = self.complete(llm, role, step, messages, None, sampling).await?;
        if second.truncated {
            return Err(LlmError::InvalidResponse(format!(
                "the {role} model's answer was cut off at its token limit twice (finish_reason: length); \
                 raise its max_tokens (or the server's default limit)"
            )));
        }
        Ok(second.text)
    }

    /// Asks the main model for a program: the answer is added to `conversation` and its code
    /// returned. An answer with no program in it (prose, an apology, a plan) is asked for
    /// once more, as one fenced block, before it counts.
    pub(crate) async fn ask_program(
        &self,
        main: &dyn Llm,
        step: &str,
        conversation: &mut Vec<Message>,
    ) -> Result<String, LlmError> {
        self.ask_program_sampled(main, step, conversation, Sampling::Configured)
            .await
    }

    /// [`Self::ask_program`] with the answer sampled as `sampling` says.
    pub(crate) async fn ask_program_sampled(
        &self,
        main: &dyn Llm,
        step: &str,
        conversation: &mut Vec<Message>,
        sampling: Sampling,
    ) -> Result<String, LlmError> {
        let answer = self
            .ask_whole(main, LlmRole::Main, step, conversation.clone(), sampling)
            .await?;
        let has_program = contains_program(&answer);
        conversation.push(Message::assistant(answer));
        if !has_program {
            tracing::info!(step, "the answer has no program; asking once more for one code block");
            conversation.push(Message::user(prompts::NO_CODE_USER));
            let again = self
                .ask_whole(main, LlmRole::Main, step, conversation.clone(), sampling)
                .await?;
            conversation.push(Message::assistant(again));
        }
        Ok(conversation
            .last()
            .map(|m| extract_code(&m.content))
            .unwrap_or_default())
    }

    async fn complete(
        &self,
        llm: &dyn Llm,
        role: LlmRole,
        step: &str,
        messages: Vec<Message>,
        max_output_tokens: Option<u32>,
        sampling: Sampling,
    ) -> Result<LlmResponse, LlmError> {
        let request = LlmRequest {
            role,
            step: step.to_string(),
            messages,
            max_output_tokens,
            sampling,
            functions: Vec::new(),
        };
        let span = tracing::info_span!(
            "model_call",
            role = role.as_str(),
            step,
            model = llm.model_name().unwrap_or("-"),
            prompt_tokens = tracing::field::Empty,
            completion_tokens = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        let result = tracing::Instrument::instrument(llm.complete(&request), span.clone()).await;
        if let Some(log) = &self.log {
            match &result {
                Ok(r) => log.write(&request, Ok(&r.text)),
                Err(e) => log.write(&request, Err(&e.to_string())),
            }
        }
        if let Err(e) = &result {
            span.record("error", tracing::field::display(e));
        }
        let mut response = result?;
        tokens::count_unreported(&mut response.usage, &request.messages, &response.text);
        span.record("prompt_tokens", response.usage.prompt_tokens);
        span.record("completion_tokens", response.usage.completion_tokens);
        if let Ok(mut usage) = self.usage.lock() {
            usage.entry(role.as_str().to_string()).or_default().add(response.usage);
        }
        Ok(response)
    }

    /// The tokens counted so far, per role.
    pub(crate) fn usage(&self) -> BTreeMap<String, TokenUsage> {
        self.usage.lock().map(|u| u.clone()).unwrap_or_default()
    }
}

/// Why a step ended the run.
#[derive(Debug)]
pub(super) enum StepFailure {
    /// A model call failed (`llm_error`).
    Llm(LlmError),
    /// Anything else, with the result type it ends the run as.
    Ended { result_type: ResultType, message: String },
}

impl From<LlmError> for StepFailure {
    fn from(e: LlmError) -> Self {
        StepFailure::Llm(e)
    }
}

/// Watches a run as it happens (for progress output). Both methods do nothing by default.
pub trait RunObserver: Send + Sync {
    /// A step begins.
    fn step_started(&self, _step: Step) {}
    /// A step ended (successfully or not).
    fn step_finished(&self, _timing: &StepTiming) {}
}

/// The observer of a run, if any.
pub(super) type Observer<'a> = Option<&'a dyn RunObserver>;

/// Times one step: tells the observer it started, and on [`StepClock::finish`] adds its
/// timing to the report and tells the observer it ended.
pub(super) struct StepClock<'a> {
    observer: Observer<'a>,
    step: Step,
    started: Instant,
    span: tracing::Span,
}

impl<'a> StepClock<'a> {
    pub(crate) fn start(observer: Observer<'a>, step: Step) -> Self {
        if let Some(o) = observer {
            o.step_started(step);
        }
        Self {
            observer,
            step,
            started: Instant::now(),
            span: tracing::info_span!(
                "step",
                step = step.as_str(),
                detail = tracing::field::Empty,
                failed = tracing::field::Empty
            ),
        }
    }

    /// The step's span, for the work of the step to run in (`.instrument(clock.span())`).
    pub(crate) fn span(&self) -> tracing::Span {
        self.span.clone()
    }

    pub(crate) fn finish(self, report: &mut RunReport, detail: impl Into<String>) {
        let timing = StepTiming {
            step: self.step,
            duration_ms: ms(self.started),
            detail: detail.into(),
        };
        if !timing.detail.is_empty() {
            self.span.record("detail", timing.detail.as_str());
        }
        if let Some(o) = self.observer {
            o.step_finished(&timing);
        }
        report.timings.push(timing);
    }

    /// Ends the step and the run with `failure`; `detail` is the step's detail unless a
    /// model call failed (then it is `failed`).
    pub(crate) fn fail(self, report: &mut RunReport, failure: StepFailure, detail: impl Into<String>) {
        self.span.record("failed", true);
        match failure {
            StepFailure::Llm(error) => {
                report.result_type = ResultType::LlmError;
                report.error = Some(format!("{} step: {error}", self.step));
                self.finish(report, "failed");
            }
            StepFailure::Ended { result_type, message } => {
                report.result_type = result_type;
                report.error = Some(message);
                self.finish(report, detail);
            }
        }
    }
}

/// Milliseconds since `since`.
pub(super) fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// How many lines of a cut-off answer the model sees again when asked for a shorter one.
const CUT_OFF_LINES_KEPT: usize = 12;

/// The opening lines of an answer cut off at the token limit. The whole of it would prime
/// the model to write the same again: the cut-off answers seen were the declarations pasted
/// back (1,024 tokens of them) and a list repeating itself.
fn opening_of(answer: &str) -> String {
    let lines: Vec<&str> = answer.lines().collect();
    if lines.len() <= CUT_OFF_LINES_KEPT {
        return answer.to_string();
    }
    format!(
        "{}\n[... {} more lines, cut off at the token limit]",
        lines[..CUT_OFF_LINES_KEPT].join("\n"),
        lines.len() - CUT_OFF_LINES_KEPT
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_off_answer_is_shown_again_by_its_opening_only() {
        let short = "```typescript\nconst a = 1;";
        assert_eq!(opening_of(short), short);
        let long: Vec<String> = (0..40).map(|i| format!("type T{i} = {{ n: number }};")).collect();
        let shown = opening_of(&long.join("\n"));
        assert_eq!(shown.lines().count(), CUT_OFF_LINES_KEPT + 1);
        assert!(shown.starts_with("type T0 = "), "{shown}");
        assert!(
            shown.ends_with("[... 28 more lines, cut off at the token limit]"),
            "{shown}"
        );
    }
}
