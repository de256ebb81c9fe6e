//! One error type for every file this crate reads: where (file, line,
//! column), which field, and what is wrong.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in a file: 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file, as the caller named it.
    pub file: PathBuf,
    /// 1-based line; 0 when the error is about the file as a whole.
    pub line: usize,
    /// 1-based column (in characters); 0 when `line` is 0.
    pub column: usize,
}

impl Location {
    /// The file as a whole (it could not be read, say).
    pub fn file(file: &Path) -> Self {
        Self {
            file: file.to_owned(),
            line: 0,
            column: 0,
        }
    }

    /// The place of byte offset `offset` of `text`, the contents of `file`.
    pub fn at(file: &Path, text: &str, offset: usize) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Self {
            file: file.to_owned(),
            line,
            column,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// What is wrong with a configuration or manifest file, and where.
///
/// Displays as `file:line:column: field: message`, followed by a
/// `note:` line when the error is in a file that another one named (a
/// plugin's manifest, named by the operator's config).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Where.
    pub location: Location,
    /// The field, as a path (`plugins.spring-sale.limits.fuel`,
    /// `promotions[1].plugin`); empty for the document itself.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// Why this file was read, when another file led here.
    pub note: Option<String>,
}

impl ConfigError {
    pub(crate) fn new(location: Location, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            location,
            field: field.into(),
            message: message.into(),
            note: None,
        }
    }

    pub(crate) fn with_note(mut self, note: String) -> Self {
        self.note = Some(note);
        self
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(note) = &self.note {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters_from_one() {
        let text = "a = 1\nbé = \"x\"\n";
        let file = Path::new("f.toml");
        assert_eq!(Location::at(file, text, 0).to_string(), "f.toml:1:1");
        // The `"` after `bé = `: the é is one character, two bytes.
        assert_eq!(Location::at(file, text, 12).to_string(), "f.toml:2:6");
        assert_eq!(Location::at(file, text, 10_000).line, 3);
    }
}
