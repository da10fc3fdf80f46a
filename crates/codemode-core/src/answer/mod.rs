//! Reading models' answers: the program in the main model's answer, the tool list in the
//! tiny model's. Lenient on purpose: small models wrap, quote and comment what they give.

mod code;
mod tool_list;

pub use code::{contains_program, extract_code};
pub use tool_list::{FilterAnswer, parse_filter_answer};
