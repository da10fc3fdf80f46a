//! Positions in the program as the model wrote it. [`Diagnostic`] itself is the
//! `TypeChecker` boundary's, in `codemode-traits`.

pub use codemode_traits::{Diagnostic, Severity};

/// Maps byte offsets of a text to 1-based lines and columns.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    /// Indexes the line starts of `text`.
    pub fn new(text: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { starts }
    }

    /// The 1-based (line, column) of a byte offset; columns count characters.
    pub fn position(&self, text: &str, offset: usize) -> (u32, u32) {
        let offset = offset.min(text.len());
        let line = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts[line];
        let col = text.get(start..offset).map_or(0, |s| s.chars().count());
        (line as u32 + 1, col as u32 + 1)
    }

    /// The byte offset of a 1-based (line, column), columns counting characters: the
    /// inverse of [`Self::position`]. Past the end of a line or the text, its end.
    pub fn offset(&self, text: &str, line: u32, column: u32) -> usize {
        let Some(&start) = self.starts.get((line as usize).saturating_sub(1)) else {
            return text.len();
        };
        let rest = text.get(start..).unwrap_or("");
        let end = rest.find('\n').unwrap_or(rest.len());
        start
            + rest[..end]
                .char_indices()
                .nth((column as usize).saturating_sub(1))
                .map_or(end, |(i, _)| i)
    }

    /// Number of lines.
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions() {
        let text = "ab\ncdé\nf";
        let idx = LineIndex::new(text);
        assert_eq!(idx.position(text, 0), (1, 1));
        assert_eq!(idx.position(text, 3), (2, 1));
        assert_eq!(idx.position(text, 7), (2, 4));
        assert_eq!(idx.position(text, 8), (3, 1));
        assert_eq!(idx.line_count(), 3);
        // Offsets are the inverse, and stop at the end of a line or the text.
        for offset in [0, 3, 5, 7, 9] {
            let (line, column) = idx.position(text, offset);
            assert_eq!(idx.offset(text, line, column), offset, "{offset}");
        }
        assert_eq!(idx.offset(text, 2, 9), 7);
        assert_eq!(idx.offset(text, 7, 1), text.len());
    }
}
