//! HTTP caching headers for catalog reads.
//!
//! The origin says what an edge may cache: `Cache-Control` with `s-maxage`,
//! `stale-while-revalidate` and `stale-if-error`; a strong `ETag` over the
//! exact bytes; and `Surrogate-Key` naming every entity on the page, so a change
//! to any of them can purge it. Browsers get `max-age=0` and revalidate.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::error::ApiError;

/// The name of the surrogate key header (Fastly's and Varnish's convention).
pub const SURROGATE_KEY: &str = "surrogate-key";

/// Freshness of catalog responses, from the config.
pub fn catalog_cache_control(config: &Config) -> String {
    format!(
        "public, max-age=0, s-maxage={}, stale-while-revalidate={}, stale-if-error={}",
        config.catalog_s_maxage, config.catalog_stale_while_revalidate, config.catalog_stale_if_error
    )
}

/// Freshness of search answers: short, because a search page can gain a
/// product that no surrogate key on it names (a stock change purges only
/// the products shown; price and catalog changes purge `search`).
pub fn search_cache_control(config: &Config) -> String {
    format!(
        "public, max-age=0, s-maxage={}, stale-while-revalidate={}, stale-if-error={}",
        config.search_s_maxage, config.search_s_maxage, config.catalog_stale_if_error
    )
}

/// A strong entity tag over `body`.
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..12]))
}

/// Whether `If-None-Match` in `request` matches `etag` (weak comparison, as
/// RFC 9110 §13.1.2 asks for GET).
pub fn if_none_match(request: &HeaderMap, etag: &str) -> bool {
    let bare = etag.trim_start_matches("W/");
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == bare)
}

/// A cacheable JSON response for `value`, tagged with `surrogate_keys`, or a
/// 304 when the client already holds it.
pub fn cacheable_json<T: Serialize>(
    request: &HeaderMap,
    config: &Config,
    surrogate_keys: &[String],
    value: &T,
) -> Result<Response, ApiError> {
    cacheable_json_with(request, &catalog_cache_control(config), surrogate_keys, value)
}

/// As [`cacheable_json`], with `cache_control` instead of the catalog's.
pub fn cacheable_json_with<T: Serialize>(
    request: &HeaderMap,
    cache_control: &str,
    surrogate_keys: &[String],
    value: &T,
) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.into()))?;
    let etag = etag_of(&body);
    let mut headers = HeaderMap::new();
    headers.insert(header::CACHE_CONTROL, header_value(cache_control)?);
    headers.insert(header::ETAG, header_value(&etag)?);
    headers.insert(SURROGATE_KEY, header_value(&surrogate_keys.join(" "))?);
    if if_none_match(request, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok((StatusCode::OK, headers, body).into_response())
}

fn header_value(value: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(value).map_err(|e| ApiError::Internal(anyhow::anyhow!("invalid header value: {e}")))
}

/// `Cache-Control` for answers that must never be stored (carts, orders, auth).
pub const NO_STORE: &str = "private, no-store";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_handles_lists_weak_tags_and_star() {
        let etag = etag_of(b"{}");
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_str(&format!("\"x\", W/{etag}")).unwrap(),
        );
        assert!(if_none_match(&h, &etag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
        assert!(!if_none_match(&h, &etag));
        h.insert(header::IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(if_none_match(&h, &etag));
    }

    #[test]
    fn etag_changes_with_the_bytes() {
        assert_ne!(etag_of(b"{\"a\":1}"), etag_of(b"{\"a\":2}"));
        assert_eq!(etag_of(b"same"), etag_of(b"same"));
    }
}
