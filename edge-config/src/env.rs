//! `${VAR}` and `${VAR:-default}` in config strings.
//!
//! - `${VAR}` is the variable's value; unset, it is an error.
//! - `${VAR:-default}` is the value, or `default` when unset or empty.
//! - `$${` is a literal `${`; any other `$` is itself.
//!
//! Expansion is one pass: a value that contains `${…}` is not expanded
//! again, so an environment variable cannot inject more references.

use crate::document::Env;

/// Expands `input`; `Err` says which reference failed and why.
pub(crate) fn expand(input: &str, env: Env<'_>) -> Result<String, String> {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(escaped) = after.strip_prefix("${") {
            out.push_str("${");
            rest = escaped;
            continue;
        }
        let Some(body_start) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let end = body_start
            .find('}')
            .ok_or_else(|| format!("`${{` at byte {at} has no closing `}}`"))?;
        let body = &body_start[..end];
        let (name, default) = match body.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (body, None),
        };
        if !is_name(name) {
            return Err(format!(
                "`${{{body}}}`: `{name}` is not an environment variable name (letters, digits, `_`)"
            ));
        }
        match (env(name), default) {
            (Some(value), Some(default)) if value.is_empty() => out.push_str(default),
            (Some(value), _) => out.push_str(&value),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                return Err(format!(
                    "environment variable `{name}` is not set (write `${{{name}:-default}}` to give a default)"
                ));
            }
        }
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("pay.example".into()),
            "EMPTY" => Some(String::new()),
            "TRICKY" => Some("${HOST}".into()),
            _ => None,
        }
    }

    #[test]
    fn references_defaults_and_escapes() {
        let x = |s: &str| expand(s, &env);
        assert_eq!(x("https://${HOST}/v1").as_deref(), Ok("https://pay.example/v1"));
        assert_eq!(x("${MISSING:-fallback}").as_deref(), Ok("fallback"));
        assert_eq!(x("${EMPTY:-fallback}").as_deref(), Ok("fallback"));
        assert_eq!(x("${EMPTY}").as_deref(), Ok(""));
        assert_eq!(x("${HOST:-}").as_deref(), Ok("pay.example"));
        assert_eq!(x("cost: $5, $${HOST}").as_deref(), Ok("cost: $5, ${HOST}"));
        assert_eq!(x("$").as_deref(), Ok("$"));
    }

    #[test]
    fn an_expanded_value_is_not_expanded_again() {
        assert_eq!(expand("${TRICKY}", &env).as_deref(), Ok("${HOST}"));
    }

    #[test]
    fn errors_name_the_reference() {
        let message = expand("a ${MISSING} b", &env).expect_err("refused");
        assert!(message.contains("`MISSING` is not set"), "{message}");
        let message = expand("${not-a-name}", &env).expect_err("refused");
        assert!(message.contains("not an environment variable name"), "{message}");
        let message = expand("${HOST", &env).expect_err("refused");
        assert!(message.contains("no closing"), "{message}");
    }
}
