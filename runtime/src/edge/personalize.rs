//! Personalization of cached pages: one cached copy, reordered per shopper.
//!
//! Two halves, both pure and cheap enough to run on every hit:
//!
//! - [`context_from_headers`]: the shopper's [`ShopperContext`] from the signed
//!   `vitrine_ctx` cookie and `Accept-Language`. A cookie that is missing,
//!   malformed, forged, expired or over the caps gives an empty context: a
//!   shopper is never refused a page because of it.
//! - [`personalize_listing`]: runs the route's personalization plugins, in
//!   order, on a category listing page and rebuilds the page from the
//!   origin's own product objects, in the plugins' order, with their badges.
//!   Any [`PersonalizeError`] means "serve the page as cached".
//!
//! # The cookie
//!
//! `vitrine_ctx=<payload>.<mac>`, where `<payload>` is the unpadded base64url
//! of a JSON object ([`ContextClaims`]) and `<mac>` is the lowercase hex of
//! HMAC-SHA256(secret, `<payload>` as ASCII). [`sign_context`] writes one:
//!
//! ```
//! use vitrine_runtime::edge::personalize::{context_from_headers, sign_context, ContextClaims, COOKIE};
//!
//! let secret = b"edge-context-secret";
//! let claims = ContextClaims {
//!     segments: vec!["trade".into()],
//!     exp: 2_000_000_000,
//!     ..ContextClaims::default()
//! };
//! let mut headers = http::HeaderMap::new();
//! let cookie = format!("{COOKIE}={}", sign_context(secret, &claims));
//! headers.insert(http::header::COOKIE, cookie.parse().unwrap());
//! let context = context_from_headers(&headers, Some(secret), 1_900_000_000);
//! assert_eq!(context.segments, ["trade"]);
//! ```

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::plugins::types::{Money, ProductSummary, ShopperContext};
use crate::plugins::{PluginError, PluginHost};

/// The cookie that carries the shopper's context.
pub const COOKIE: &str = "vitrine_ctx";
/// Longest cookie value read, in bytes; a longer one is ignored.
pub const MAX_COOKIE_BYTES: usize = 4 * 1024;
/// Most segments a context carries.
pub const MAX_SEGMENTS: usize = 16;
/// Most recently viewed product ids a context carries.
pub const MAX_RECENT: usize = 20;
/// Most recently viewed categories a context carries.
pub const MAX_RECENT_CATEGORIES: usize = 10;
/// Longest segment, product id or category slug, in bytes.
pub const MAX_CLAIM_BYTES: usize = 64;
/// Longest locale (a BCP 47 tag) taken from `Accept-Language`, in bytes.
pub const MAX_LOCALE_BYTES: usize = 35;

type HmacSha256 = Hmac<Sha256>;

/// What the `vitrine_ctx` cookie says about a shopper (its JSON payload).
///
/// Lists are newest first. Unknown fields make the cookie invalid, so a
/// payload from a newer or foreign signer is ignored rather than misread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContextClaims {
    /// The shopper's segments, e.g. `trade`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<String>,
    /// Recently viewed product ids, most recent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<String>,
    /// Category slugs of recently viewed products, most recent first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_categories: Vec<String>,
    /// When the cookie stops being honoured, in Unix seconds.
    pub exp: u64,
}

impl ContextClaims {
    /// Whether every list and string is within the caps the edge accepts.
    pub fn within_caps(&self) -> bool {
        let short = |list: &[String]| list.iter().all(|s| s.len() <= MAX_CLAIM_BYTES);
        self.segments.len() <= MAX_SEGMENTS
            && self.recent.len() <= MAX_RECENT
            && self.recent_categories.len() <= MAX_RECENT_CATEGORIES
            && short(&self.segments)
            && short(&self.recent)
            && short(&self.recent_categories)
    }

    /// Drops what the edge would refuse: strings over [`MAX_CLAIM_BYTES`],
    /// then the oldest entries past each list's cap.
    fn clamp(&mut self) {
        for (list, cap) in [
            (&mut self.segments, MAX_SEGMENTS),
            (&mut self.recent, MAX_RECENT),
            (&mut self.recent_categories, MAX_RECENT_CATEGORIES),
        ] {
            list.retain(|s| s.len() <= MAX_CLAIM_BYTES);
            list.truncate(cap);
        }
    }

    /// Drops the oldest entry of the first non-empty list of recent products,
    /// recent categories and segments; false if all are empty.
    fn drop_oldest(&mut self) -> bool {
        [&mut self.recent, &mut self.recent_categories, &mut self.segments]
            .into_iter()
            .find(|list| !list.is_empty())
            .and_then(|list| list.pop())
            .is_some()
    }
}

/// The `vitrine_ctx` cookie value for `claims`, signed with `secret`.
///
/// The cookie always verifies at an edge with the same secret: strings over
/// [`MAX_CLAIM_BYTES`] are left out, each list keeps its newest entries up to
/// its cap, and the oldest entries are dropped until the value fits in
/// [`MAX_COOKIE_BYTES`]. So a caller can push onto `recent` and re-sign
/// without trimming.
pub fn sign_context(secret: &[u8], claims: &ContextClaims) -> String {
    let mut claims = claims.clone();
    claims.clamp();
    loop {
        let cookie = sign_exact(secret, &claims);
        if cookie.len() <= MAX_COOKIE_BYTES || !claims.drop_oldest() {
            return cookie;
        }
    }
}

fn sign_exact(secret: &[u8], claims: &ContextClaims) -> String {
    let json = serde_json::to_vec(claims).unwrap_or_else(|_| unreachable!("claims are strings and a number"));
    let payload = URL_SAFE_NO_PAD.encode(json);
    let mac = hex::encode(mac(secret, payload.as_bytes()).finalize().into_bytes());
    format!("{payload}.{mac}")
}

fn mac(secret: &[u8], payload: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(payload);
    mac
}

/// The shopper's context for a request with `headers`, at `now_unix` seconds.
///
/// Segments and recent views come from the `vitrine_ctx` cookie when it
/// verifies against `secret`, has not expired and is within the caps; with no
/// secret (or an empty one) no cookie is trusted. The locale comes from
/// `Accept-Language` either way. `on_promotion` is left empty: it is not the
/// shopper's to claim.
pub fn context_from_headers(headers: &HeaderMap, secret: Option<&[u8]>, now_unix: u64) -> ShopperContext {
    let claims = secret
        .filter(|s| !s.is_empty())
        .and_then(|secret| cookie_value(headers).and_then(|value| verify(secret, value, now_unix)))
        .unwrap_or_default();
    ShopperContext {
        segments: claims.segments,
        locale: locale(headers),
        recently_viewed: claims.recent,
        recent_categories: claims.recent_categories,
        on_promotion: Vec::new(),
    }
}

/// The first `vitrine_ctx` cookie's value, unquoted.
fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| {
            let value = value.trim();
            value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value)
        })
}

/// The claims in cookie `value`, if it is signed with `secret`, unexpired and within the caps.
fn verify(secret: &[u8], value: &str, now_unix: u64) -> Option<ContextClaims> {
    if value.len() > MAX_COOKIE_BYTES {
        return None;
    }
    let (payload, tag) = value.rsplit_once('.')?;
    let tag = hex::decode(tag).ok()?;
    // Constant time: a forger learns nothing from how fast a guess is refused.
    mac(secret, payload.as_bytes()).verify_slice(&tag).ok()?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: ContextClaims = serde_json::from_slice(&json).ok()?;
    (claims.exp > now_unix && claims.within_caps()).then_some(claims)
}

/// The preferred language of `Accept-Language`: the tag with the highest
/// `q` (ties go to the first), lower-cased; `*`, `q=0`, malformed and
/// over-long entries are skipped.
fn locale(headers: &HeaderMap) -> Option<String> {
    let mut best: Option<(&str, u16)> = None;
    let entries = headers
        .get_all(http::header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','));
    for entry in entries {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        if !is_language_tag(tag) {
            continue;
        }
        let mut weight = Some(1000);
        for param in parts {
            if let Some((name, value)) = param.split_once('=')
                && name.trim().eq_ignore_ascii_case("q")
            {
                weight = qvalue(value.trim());
            }
        }
        let Some(weight) = weight.filter(|w| *w > 0) else {
            continue;
        };
        if best.is_none_or(|(_, b)| weight > b) {
            best = Some((tag, weight));
        }
    }
    best.map(|(tag, _)| tag.to_ascii_lowercase())
}

/// A language range other than `*`: alphanumeric subtags joined by `-`, the
/// first alphabetic, at most [`MAX_LOCALE_BYTES`] in all.
fn is_language_tag(tag: &str) -> bool {
    let mut subtags = tag.split('-');
    let primary = subtags.next().unwrap_or_default();
    tag.len() <= MAX_LOCALE_BYTES
        && (1..=8).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_alphabetic())
        && subtags.all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// RFC 9110 `qvalue` in thousandths: `0`, `0.5`, `1.000`…; None if malformed.
fn qvalue(value: &str) -> Option<u16> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0u16, |acc, b| acc * 10 + u16::from(b - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Why a page was not personalized. The caller serves it as cached.
#[derive(Debug, thiserror::Error)]
pub enum PersonalizeError {
    /// The body is not a listing page: not JSON, no `products` array, or a
    /// product without the fields a plugin needs.
    #[error("not a listing page: {reason}")]
    NotAListing {
        /// What was wrong with it.
        reason: String,
    },
    /// A personalization plugin failed (or is not installed).
    #[error("running personalization plugin `{plugin}`: {source}")]
    Plugin {
        /// The plugin that failed.
        plugin: String,
        /// How it failed.
        #[source]
        source: PluginError,
    },
    /// A plugin answered a product that is not on the page, or one twice.
    #[error("personalization plugin `{plugin}` answered product `{product}`, which is not on the page or came twice")]
    ForeignProduct {
        /// The plugin that answered it.
        plugin: String,
        /// The product id it answered.
        product: String,
    },
}

fn not_a_listing(reason: impl Into<String>) -> PersonalizeError {
    PersonalizeError::NotAListing { reason: reason.into() }
}

/// `body`, a category listing page (`{"products": [...], ...}`), personalized
/// for `context` by `plugins` in order, each working on the previous one's answer.
///
/// The page keeps every top-level field and every field of each product the
/// plugins kept; only the products' order and their `badges` (set to the
/// last plugin's) change. Products the plugins dropped are gone. With no
/// plugins, the page is returned as is.
pub fn personalize_listing(
    host: &PluginHost,
    plugins: &[String],
    body: &[u8],
    context: &ShopperContext,
) -> Result<Bytes, PersonalizeError> {
    if plugins.is_empty() {
        return Ok(Bytes::copy_from_slice(body));
    }
    let mut page: Value = serde_json::from_slice(body).map_err(|e| not_a_listing(format!("not JSON: {e}")))?;
    let Some(top) = page.as_object_mut() else {
        return Err(not_a_listing("not a JSON object"));
    };
    let Some(Value::Array(products)) = top.get_mut("products") else {
        return Err(not_a_listing("no `products` array"));
    };
    let originals = std::mem::take(products);

    let mut summaries = Vec::with_capacity(originals.len());
    let mut position: HashMap<&str, usize> = HashMap::with_capacity(originals.len());
    for (i, product) in originals.iter().enumerate() {
        let (id, summary) = summary(product).map_err(|reason| not_a_listing(format!("products[{i}]: {reason}")))?;
        if position.insert(id, i).is_some() {
            return Err(not_a_listing(format!("products[{i}]: product `{id}` appears twice")));
        }
        summaries.push(summary);
    }

    let mut seen = vec![false; originals.len()];
    for plugin in plugins {
        let answer = host
            .call_personalization(plugin, &summaries, context)
            .map_err(|source| PersonalizeError::Plugin {
                plugin: plugin.clone(),
                source,
            })?;
        seen.fill(false);
        for product in &answer {
            match position.get(product.id.as_str()) {
                Some(&i) if !std::mem::replace(&mut seen[i], true) => {}
                _ => {
                    return Err(PersonalizeError::ForeignProduct {
                        plugin: plugin.clone(),
                        product: product.id.clone(),
                    });
                }
            }
        }
        summaries = answer;
    }

    // Every id was checked against `position` above; the lookups cannot miss.
    let order: Vec<usize> = summaries
        .iter()
        .filter_map(|p| position.get(p.id.as_str()).copied())
        .collect();
    debug_assert_eq!(order.len(), summaries.len());
    drop(position);
    let mut originals: Vec<Option<Value>> = originals.into_iter().map(Some).collect();
    let rebuilt = order
        .into_iter()
        .zip(summaries)
        .filter_map(|(i, summary)| {
            let mut product = originals.get_mut(i)?.take()?;
            if let Value::Object(fields) = &mut product {
                let badges = summary.badges.into_iter().map(Value::String).collect();
                fields.insert("badges".to_owned(), Value::Array(badges));
            }
            Some(product)
        })
        .collect();
    top.insert("products".to_owned(), Value::Array(rebuilt));
    // Room for the page and the badges, so the buffer is not regrown as it is written.
    let mut out = Vec::with_capacity(body.len() + body.len() / 8);
    serde_json::to_writer(&mut out, &page).unwrap_or_else(|_| unreachable!("a `Value` always serializes"));
    Ok(Bytes::from(out))
}

/// A listing's product as the plugins see it, and its id.
fn summary(product: &Value) -> Result<(&str, ProductSummary), String> {
    let fields = product.as_object().ok_or("not an object")?;
    let id = string(fields, "id")?;
    let price = fields
        .get("price")
        .and_then(Value::as_object)
        .ok_or("no `price` object")?;
    let amount_minor = price
        .get("amount_minor")
        .and_then(Value::as_i64)
        .ok_or("no integer `price.amount_minor`")?;
    let badges = match fields.get("badges") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(badges)) => badges
            .iter()
            .map(|b| b.as_str().map(str::to_owned).ok_or("`badges` holds a non-string"))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`badges` is not an array".into()),
    };
    let summary = ProductSummary {
        id: id.to_owned(),
        sku: string(fields, "sku")?.to_owned(),
        name: string(fields, "name")?.to_owned(),
        brand: string(fields, "brand")?.to_owned(),
        category: string(fields, "category")?.to_owned(),
        price: Money {
            amount_minor,
            currency: string(price, "currency").map_err(|e| format!("price: {e}"))?.to_owned(),
        },
        in_stock: fields
            .get("in_stock")
            .and_then(Value::as_bool)
            .ok_or("no boolean `in_stock`")?,
        badges,
    };
    Ok((id, summary))
}

fn string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    fields
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no string `{name}`"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    fn accept_language(value: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::ACCEPT_LANGUAGE, value.parse().unwrap());
        locale(&headers)
    }

    #[test]
    fn locale_is_the_highest_q_first_on_ties() {
        assert_eq!(
            accept_language("de-CH;q=0.8, en-ZA, en;q=0.5").as_deref(),
            Some("en-za")
        );
        assert_eq!(accept_language("fr;q=0.9, de;q=0.9").as_deref(), Some("fr"));
        assert_eq!(accept_language("*, af;q=0.2").as_deref(), Some("af"));
        assert_eq!(accept_language("en;q=0, zu;q=0.1").as_deref(), Some("zu"));
        assert_eq!(accept_language("en;q=2, nl;q=0.3").as_deref(), Some("nl"));
        assert_eq!(accept_language("*"), None);
        assert_eq!(accept_language("en-thisisfar-toolongforasubtag"), None);
    }

    #[test]
    fn qvalues_follow_rfc_9110() {
        assert_eq!(qvalue("1"), Some(1000));
        assert_eq!(qvalue("1.000"), Some(1000));
        assert_eq!(qvalue("0.5"), Some(500));
        assert_eq!(qvalue("0.123"), Some(123));
        assert_eq!(qvalue("0."), Some(0));
        assert_eq!(qvalue("1.001"), None);
        assert_eq!(qvalue("0.1234"), None);
        assert_eq!(qvalue(".5"), None);
        assert_eq!(qvalue("0.-1"), None);
    }

    #[test]
    fn signing_clamps_to_what_the_edge_accepts() {
        let claims = ContextClaims {
            segments: vec!["x".repeat(MAX_CLAIM_BYTES + 1), "trade".into()],
            recent: (0..100).map(|i| format!("{i:0>60}")).collect(),
            recent_categories: (0..30).map(|i| format!("{i:0>64}")).collect(),
            exp: 10,
        };
        let cookie = sign_context(b"k", &claims);
        assert!(cookie.len() <= MAX_COOKIE_BYTES, "{}", cookie.len());
        let read = verify(b"k", &cookie, 0).expect("a cookie from sign_context verifies");
        assert_eq!(read.segments, ["trade"]);
        // The newest survive.
        assert_eq!(
            read.recent.first().map(String::as_str),
            claims.recent.first().map(String::as_str)
        );
        assert!(read.within_caps());
    }
}
