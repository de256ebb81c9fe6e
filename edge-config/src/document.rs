//! Reading a TOML file into typed config with errors that say where:
//! syntax errors and type errors carry toml's own spans; `${VAR}` expansion
//! happens on the parsed tree, string by string, so a missing variable is
//! located exactly; and checks made after parsing find their field's place
//! again with [`locate`].

use std::path::Path;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::env;
use crate::error::{ConfigError, Location};

/// Where environment variables come from: the process's environment, or a
/// map in tests.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process's environment, for [`Env`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Parses `text` (the contents of `file`) into `T`, expanding `${VAR}` and
/// `${VAR:-default}` in every string first.
pub(crate) fn parse<T: DeserializeOwned>(file: &Path, text: &str, env: Env<'_>) -> Result<T, ConfigError> {
    let mut root = DeTable::parse(text).map_err(|e| toml_error(file, text, "", &e))?;
    let mut path = Vec::new();
    expand_table(root.get_mut(), &mut path, env)
        .map_err(|(field, span, message)| ConfigError::new(Location::at(file, text, span.start), field, message))?;
    let deserializer = toml::de::Deserializer::from(root);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let field = field_of(e.path());
        toml_error(file, text, &field, e.inner())
    })
}

fn toml_error(file: &Path, text: &str, field: &str, error: &toml::de::Error) -> ConfigError {
    let location = match error.span() {
        Some(span) => Location::at(file, text, span.start),
        None => locate(file, text, field),
    };
    ConfigError::new(location, field, error.message().trim_end())
}

/// serde_path_to_error's path as a field name: `.` (the root) is empty.
fn field_of(path: &serde_path_to_error::Path) -> String {
    let path = path.to_string();
    if path == "." { String::new() } else { path }
}

/// The place of `field` (`plugins.spring-sale.limits.fuel`,
/// `promotions[1].plugin`) in `text`: its value, or, for a field that is
/// missing, the nearest enclosing field that is there.
pub(crate) fn locate(file: &Path, text: &str, field: &str) -> Location {
    let Ok(root) = DeTable::parse(text) else {
        return Location::file(file);
    };
    let mut best = None;
    let mut value: Option<&Spanned<DeValue<'_>>> = None;
    for segment in segments(field) {
        let next = match (segment, value.map(Spanned::get_ref)) {
            (Segment::Key(key), None) => root.get_ref().get_key_value(key),
            (Segment::Key(key), Some(DeValue::Table(table))) => table.get_key_value(key),
            (Segment::Index(i), Some(DeValue::Array(array))) => {
                value = array.get(i);
                if let Some(v) = value {
                    best = Some(v.span().start);
                }
                if value.is_none() {
                    break;
                }
                continue;
            }
            _ => None,
        };
        let Some((key, v)) = next else { break };
        // A `[table]` or `[[array]]` value spans its whole body: point at
        // the key, which is on the header line.
        best = Some(match v.get_ref() {
            DeValue::Table(_) | DeValue::Array(_) => key.span().start,
            _ => v.span().start,
        });
        value = Some(v);
    }
    match best {
        Some(offset) => Location::at(file, text, offset),
        None => Location::at(file, text, 0),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

fn segments(field: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let (key, indices) = part.split_once('[').map_or((part, ""), |(k, rest)| (k, rest));
        if !key.is_empty() {
            out.push(Segment::Key(key));
        }
        for index in indices.split('[') {
            if let Ok(i) = index.trim_end_matches(']').parse() {
                out.push(Segment::Index(i));
            }
        }
    }
    out
}

type ExpandError = (String, std::ops::Range<usize>, String);

fn join(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if part.starts_with('[') || out.is_empty() {
            out.push_str(part);
        } else {
            out.push('.');
            out.push_str(part);
        }
    }
    out
}

fn expand_table(table: &mut DeTable<'_>, path: &mut Vec<String>, env: Env<'_>) -> Result<(), ExpandError> {
    for (key, value) in table.iter_mut() {
        path.push(key.get_ref().to_string());
        expand_value(value, path, env)?;
        path.pop();
    }
    Ok(())
}

fn expand_value(value: &mut Spanned<DeValue<'_>>, path: &mut Vec<String>, env: Env<'_>) -> Result<(), ExpandError> {
    let span = value.span();
    match value.get_mut() {
        DeValue::String(s) => {
            if s.contains('$') {
                let expanded = env::expand(s, env).map_err(|message| (join(path), span, message))?;
                *s = expanded.into();
            }
        }
        DeValue::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                path.push(format!("[{i}]"));
                expand_value(item, path, env)?;
                path.pop();
            }
        }
        DeValue::Table(table) => expand_table(table, path, env)?,
        DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) | DeValue::Datetime(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_split_into_keys_and_indices() {
        assert_eq!(
            segments("promotions[1].plugin"),
            vec![Segment::Key("promotions"), Segment::Index(1), Segment::Key("plugin")]
        );
        assert_eq!(segments(""), vec![]);
    }

    #[test]
    fn locate_finds_values_tables_and_the_nearest_present_field() {
        let text = "version = 1\n\n[plugins.a]\ncomponent = \"x\"\n\n[[promotions]]\nplugin = \"a\"\n\n[[promotions]]\nplugin = \"b\"\n";
        let file = Path::new("c.toml");
        let at = |field: &str| {
            let l = locate(file, text, field);
            (l.line, l.column)
        };
        assert_eq!(at("version"), (1, 11));
        assert_eq!(at("plugins.a.component"), (4, 13));
        assert_eq!(at("plugins.a"), (3, 10));
        assert_eq!(at("promotions[1].plugin"), (10, 10));
        // Missing: the nearest enclosing field that is there.
        assert_eq!(at("plugins.a.limits.fuel"), (3, 10));
    }
}
