//! Personalization of cached pages: one cached copy, reordered per shopper.
//!
//! Two halves, both pure and cheap enough to run on every hit:
//!
//! - [`context_from_headers`]: the shopper's [`ShopperContext`] from the signed
//!   `vitrine_ctx` cookie and `Accept-Language`. A cookie that is missing,
//!   malformed, forged, expired or over the caps gives an empty context: a
//!   shopper is never refused a page because of it. [`shopper_context`]
//!   adds a signed-in shopper's segments from the `seg` claim of their
//!   access token (see "The token" below).
//! - [`personalize_listing`]: runs the route's personalization plugins, in
//!   order, on a category listing page ([`ListingPage`], read once when the
//!   page is stored) and writes the page from the origin's own bytes, in
//!   the plugins' order, with their badges. Any [`PersonalizeError`] means
//!   "serve the page as cached".
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
//!
//! # The token
//!
//! A signed-in shopper sends `Authorization: Bearer <access token>`, the
//! JWT the origin issued at login or refresh (HS256, issuer
//! `vitrine-origin`). With the origin's token secret, the edge checks its
//! signature and expiry and takes the customer's segments from its `seg`
//! claim; they replace the cookie's segments (the origin's word on who the
//! customer is), while recent views still come from the cookie. A token
//! that does not verify is ignored here, never refused: the origin judges
//! it on the paths that need it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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

/// Longest `Authorization` value read for a token's segments, in bytes.
pub const MAX_TOKEN_BYTES: usize = 4 * 1024;

/// The claims of the origin's access token the edge reads.
#[derive(Deserialize)]
struct TokenClaims {
    exp: u64,
    #[serde(default)]
    seg: Vec<String>,
}

/// The segments in the `seg` claim of the request's `Authorization: Bearer`
/// token, if it is an access token of the origin's signed with `secret`
/// (HS256, issuer `vitrine-origin`, unexpired at `now_unix`) and its
/// segments are within the caps; `None` otherwise (no token, another
/// scheme, a forged, expired or over-long token).
pub fn token_segments(headers: &HeaderMap, secret: &[u8], now_unix: u64) -> Option<Vec<String>> {
    let value = headers.get(http::header::AUTHORIZATION)?;
    if value.len() > MAX_TOKEN_BYTES || secret.is_empty() {
        return None;
    }
    let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_issuer(&["vitrine-origin"]);
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    // The expiry is checked below against the caller's clock.
    validation.validate_exp = false;
    let key = jsonwebtoken::DecodingKey::from_secret(secret);
    let claims = jsonwebtoken::decode::<TokenClaims>(token, &key, &validation)
        .ok()?
        .claims;
    if claims.exp <= now_unix {
        return None;
    }
    let within = claims.seg.len() <= MAX_SEGMENTS && claims.seg.iter().all(|s| s.len() <= MAX_CLAIM_BYTES);
    within.then_some(claims.seg)
}

/// The secrets a shopper's context is checked with.
#[derive(Clone, Copy, Debug, Default)]
pub struct ContextSecrets<'a> {
    /// Signs the `vitrine_ctx` cookie (the edge's signing secret).
    pub cookie: Option<&'a [u8]>,
    /// Signs the origin's access tokens (its `VITRINE_JWT_SECRET`).
    pub token: Option<&'a [u8]>,
}

/// The shopper's context for a request: [`context_from_headers`], with the
/// segments of a verified access token (see [`token_segments`]) in place
/// of the cookie's.
pub fn shopper_context(headers: &HeaderMap, secrets: ContextSecrets<'_>, now_unix: u64) -> ShopperContext {
    let mut context = context_from_headers(headers, secrets.cookie, now_unix);
    if let Some(segments) = secrets
        .token
        .and_then(|secret| token_segments(headers, secret, now_unix))
    {
        context.segments = segments;
    }
    context
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

/// A cached listing page (`{"products": [...], ...}`) read once for
/// personalization: the products' summaries the plugins take, and where each
/// product's JSON object (and its `badges` member) lies in the page. A
/// personalized copy is then written by copying the origin's own bytes in
/// the plugins' order: a hit parses no JSON and writes only new badges.
///
/// The edge keeps one with each cached page (made on its first personalized
/// hit), so reading the page is paid once per page, not per shopper.
#[derive(Debug)]
pub struct ListingPage {
    /// Unique to this reading of a page in this process.
    id: u64,
    body: Bytes,
    /// The products array's contents, between its `[` and `]`.
    items: Range<usize>,
    products: Vec<Placed>,
    summaries: Vec<ProductSummary>,
    /// Product id → its index in `products`.
    position: HashMap<String, usize>,
}

#[derive(Debug)]
struct Placed {
    /// The product's object, `{` to `}`.
    object: Range<usize>,
    /// The value of its `badges` member, when it has one.
    badges: Option<Range<usize>>,
}

/// The fields of a listing read for personalization; the rest of the page is
/// validated as JSON and kept as bytes.
#[derive(Deserialize)]
struct RawListing<'a> {
    #[serde(borrow)]
    products: &'a RawValue,
}

#[derive(Deserialize)]
struct RawProduct<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow)]
    sku: Cow<'a, str>,
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    brand: Cow<'a, str>,
    #[serde(borrow)]
    category: Cow<'a, str>,
    #[serde(borrow)]
    price: RawPrice<'a>,
    in_stock: bool,
    #[serde(borrow, default, deserialize_with = "present")]
    badges: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct RawPrice<'a> {
    amount_minor: i64,
    #[serde(borrow)]
    currency: Cow<'a, str>,
}

/// A member that is there, whatever its value (`null` included), so that
/// writing new badges replaces it instead of adding a second `badges`.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// Where `part`, a slice of `body`, starts in it.
fn offset(body: &[u8], part: &str) -> usize {
    (part.as_ptr() as usize).wrapping_sub(body.as_ptr() as usize)
}

fn span(body: &[u8], part: &str) -> Range<usize> {
    let start = offset(body, part);
    start..start + part.len()
}

impl ListingPage {
    /// Reads `body`; anything but a listing page of well-formed products is
    /// [`PersonalizeError::NotAListing`], with the reason.
    pub fn parse(body: &Bytes) -> Result<Self, PersonalizeError> {
        let listing: RawListing<'_> =
            serde_json::from_slice(body).map_err(|e| not_a_listing(format!("not a listing object: {e}")))?;
        let array = listing.products.get();
        let raw: Vec<&RawValue> =
            serde_json::from_str(array).map_err(|e| not_a_listing(format!("`products` is not an array: {e}")))?;
        let whole = span(body, array);
        let items = whole.start + 1..whole.end - 1;
        let mut products = Vec::with_capacity(raw.len());
        let mut summaries = Vec::with_capacity(raw.len());
        let mut position = HashMap::with_capacity(raw.len());
        for (i, object) in raw.into_iter().enumerate() {
            let text = object.get();
            let product: RawProduct<'_> =
                serde_json::from_str(text).map_err(|e| not_a_listing(format!("products[{i}]: {e}")))?;
            let badges = match product.badges.map(RawValue::get) {
                None | Some("null") => Vec::new(),
                Some(list) => serde_json::from_str::<Vec<String>>(list)
                    .map_err(|e| not_a_listing(format!("products[{i}].badges: {e}")))?,
            };
            if position.insert(product.id.clone().into_owned(), i).is_some() {
                return Err(not_a_listing(format!(
                    "products[{i}]: product `{}` appears twice",
                    product.id
                )));
            }
            products.push(Placed {
                object: span(body, text),
                badges: product.badges.map(|b| span(body, b.get())),
            });
            summaries.push(ProductSummary {
                id: product.id.into_owned(),
                sku: product.sku.into_owned(),
                name: product.name.into_owned(),
                brand: product.brand.into_owned(),
                category: product.category.into_owned(),
                price: Money {
                    amount_minor: product.price.amount_minor,
                    currency: product.price.currency.into_owned(),
                },
                in_stock: product.in_stock,
                badges,
            });
        }
        static READS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Ok(Self {
            id: READS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            body: body.clone(),
            items,
            products,
            summaries,
            position,
        })
    }

    /// Unique to this page as stored: a new copy of the page (a refill,
    /// a purge and a refetch) is read into a page of its own.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The products as the plugins see them, in the page's order.
    pub fn summaries(&self) -> &[ProductSummary] {
        &self.summaries
    }

    /// How many products the page lists.
    pub fn len(&self) -> usize {
        self.products.len()
    }

    /// Whether the page lists no product.
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// Roughly the bytes it holds besides the page itself (which it shares
    /// with the cache entry): the summaries and the index.
    pub fn weight(&self) -> usize {
        let strings = |p: &ProductSummary| {
            p.id.len() * 2
                + p.sku.len()
                + p.name.len()
                + p.brand.len()
                + p.category.len()
                + p.price.currency.len()
                + p.badges.iter().map(|b| b.len() + 24).sum::<usize>()
        };
        let per_product = std::mem::size_of::<ProductSummary>() + std::mem::size_of::<Placed>() + 8 * 24;
        self.summaries.iter().map(strings).sum::<usize>() + self.summaries.len() * per_product
    }

    /// The page with its products as `answer` has them: that order, those
    /// badges. Every product of `answer` must be on the page.
    fn write(&self, answer: &[ProductSummary]) -> Result<Bytes, String> {
        let body = &self.body[..];
        let mut out = Vec::with_capacity(body.len() + 64 * answer.len().min(64));
        out.extend_from_slice(&body[..self.items.start]);
        for (n, summary) in answer.iter().enumerate() {
            let i = *self
                .position
                .get(summary.id.as_str())
                .ok_or_else(|| summary.id.clone())?;
            let placed = &self.products[i];
            if n > 0 {
                out.push(b',');
            }
            let object = placed.object.clone();
            // Every product of a personalized page has its `badges` list.
            let kept = summary.badges == self.summaries[i].badges
                && placed.badges.as_ref().is_some_and(|v| &body[v.clone()] != b"null");
            if kept {
                out.extend_from_slice(&body[object]);
                continue;
            }
            let badges = if summary.badges.is_empty() {
                b"[]".to_vec()
            } else {
                serde_json::to_vec(&summary.badges).unwrap_or_else(|_| unreachable!("strings serialize"))
            };
            match &placed.badges {
                Some(value) => {
                    out.extend_from_slice(&body[object.start..value.start]);
                    out.extend_from_slice(&badges);
                    out.extend_from_slice(&body[value.end..object.end]);
                }
                None => {
                    // Before the closing brace (a product has at least its id).
                    out.extend_from_slice(&body[object.start..object.end - 1]);
                    out.extend_from_slice(br#","badges":"#);
                    out.extend_from_slice(&badges);
                    out.push(b'}');
                }
            }
        }
        out.extend_from_slice(&body[self.items.end..]);
        Ok(Bytes::from(out))
    }
}

/// `context` as bytes that are equal exactly when two contexts are:
/// each field's strings, each prefixed with its length.
pub fn context_key(context: &ShopperContext) -> Box<[u8]> {
    let mut key = Vec::with_capacity(64);
    let mut put = |field: u8, values: &mut dyn Iterator<Item = &String>| {
        key.push(field);
        for value in values {
            key.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_le_bytes());
            key.extend_from_slice(value.as_bytes());
        }
    };
    put(b's', &mut context.segments.iter());
    put(b'l', &mut context.locale.iter());
    put(b'v', &mut context.recently_viewed.iter());
    put(b'c', &mut context.recent_categories.iter());
    put(b'p', &mut context.on_promotion.iter());
    key.into_boxed_slice()
}

/// [`ListingPage::parse`] for a cache entry: the page, shared, or the reason
/// it is not a listing.
pub fn read_listing(body: &Bytes) -> Result<std::sync::Arc<ListingPage>, String> {
    match ListingPage::parse(body) {
        Ok(page) => Ok(std::sync::Arc::new(page)),
        Err(PersonalizeError::NotAListing { reason }) => Err(reason),
        Err(other) => Err(other.to_string()),
    }
}

/// `page` personalized for `context` by `plugins` in order, each working on
/// the previous one's answer.
///
/// The page keeps every top-level field, byte for byte, and every product
/// the plugins kept, byte for byte but for `badges` (set to the last
/// plugin's); only the products' order changes. Products the plugins dropped
/// are gone. With no plugins, the page is returned as it is.
pub fn personalize_listing(
    host: &PluginHost,
    plugins: &[String],
    page: &ListingPage,
    context: &ShopperContext,
) -> Result<Bytes, PersonalizeError> {
    let mut answer: Option<Vec<ProductSummary>> = None;
    for plugin in plugins {
        let input = answer.as_deref().unwrap_or(&page.summaries[..]);
        // The host checks that an answer holds only products of its input,
        // each once, at their prices.
        let next = host
            .call_personalization(plugin, input, context)
            .map_err(|source| PersonalizeError::Plugin {
                plugin: plugin.clone(),
                source,
            })?;
        answer = Some(next);
    }
    let Some(answer) = answer else {
        return Ok(page.body.clone());
    };
    page.write(&answer).map_err(|product| PersonalizeError::ForeignProduct {
        plugin: plugins.last().cloned().unwrap_or_default(),
        product,
    })
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
