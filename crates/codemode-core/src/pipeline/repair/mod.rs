//! The repair loop: a program that fails its check (`compile`) or its run (`runtime`) goes
//! back to the main model with what went wrong, made concrete (`hints`); an answer that
//! changes nothing is turned into a line edit (`line_edit`).

pub(super) mod compile;
pub(super) mod hints;
pub(super) mod line_edit;
pub(super) mod runtime;
