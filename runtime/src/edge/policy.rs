//! What RFC 9111 lets a **shared** cache do with a response.
//!
//! [`evaluate`] decides, once per response from the origin, whether it may be
//! stored and for how long it is fresh, and pre-computes everything a hit
//! needs, so that serving from the cache is arithmetic on a [`Stored`]
//! policy, not header parsing. The rules, with their sections:
//!
//! - **Storable** (§3): `GET` or `HEAD`; a final status the cache understands;
//!   no `no-store` in the request or the response; no `private` (§5.2.2.7);
//!   a request with `Authorization` only when the response says `public`,
//!   `s-maxage` or `must-revalidate` (§3.5); no `Vary: *` (§4.1); and either
//!   explicit freshness, `public`, or a status cacheable by default (§4.2.2).
//!   Vitrine also passes responses that set a cookie (`Set-Cookie`): the RFC
//!   allows storing them, but a session cookie served to every shopper is a
//!   data leak, and Varnish and the CDNs refuse them by default too.
//! - **Freshness lifetime** (§4.2.1): `s-maxage`, else `max-age`, else
//!   `Expires − Date`; an `Expires` that does not parse means already stale.
//!   Without any, a heuristic of 10 % of `Date − Last-Modified` (at most a
//!   day) for statuses cacheable by default or `public` responses (§4.2.2).
//!   A directive given twice with different values is invalid and makes
//!   the response stale (§4.2.1: "consider … invalid freshness … stale").
//! - **Age** (§4.2.3): the corrected initial age from `Age`, `Date` and the
//!   request's round trip, plus the time resident in the cache.
//! - **Serving stale**: never with `no-cache` (stored, but validated before
//!   every use, §5.2.2.4), `must-revalidate`, `proxy-revalidate` or
//!   `s-maxage` (§5.2.2.2, §5.2.2.8, §5.2.2.10) — except that `s-maxage`
//!   beside an explicit `stale-while-revalidate` or `stale-if-error` keeps
//!   those windows (the origin's own `s-maxage=300, stale-while-revalidate=60,
//!   stale-if-error=86400` means what it says); otherwise within
//!   `stale-while-revalidate` (serve and refresh in the background) and
//!   `stale-if-error` (serve when the origin fails) of RFC 5861.
//! - **Request directives** (§5.2.1) — `no-cache`, `max-age`, `min-fresh`,
//!   `max-stale` — are honoured only when the route asks for it: the RFC
//!   words them as the client's preference, and a browser's reload button
//!   (`max-age=0`) would otherwise send every reload to the origin. Varnish
//!   and the CDNs ignore them by default; so does Vitrine.

use std::time::{Duration, SystemTime};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

/// The longest heuristic freshness lifetime.
const MAX_HEURISTIC: Duration = Duration::from_secs(24 * 60 * 60);

/// Statuses cacheable by default (RFC 9110 §15.1), minus 206 (partial
/// content is not stored by Vitrine).
fn cacheable_by_default(status: StatusCode) -> bool {
    matches!(
        status.as_u16(),
        200 | 203 | 204 | 300 | 301 | 308 | 404 | 405 | 410 | 414 | 501
    )
}

/// Statuses Vitrine understands well enough to store at all (§3: "the
/// response status code is final" and understood).
fn understood(status: StatusCode) -> bool {
    cacheable_by_default(status) || matches!(status.as_u16(), 302 | 303 | 307)
}

/// Cache-Control directives, parsed. A directive's value is its number of
/// seconds; a malformed or duplicated-and-conflicting value makes the whole
/// set [`invalid`](Self::invalid).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directives {
    /// `max-age`.
    pub max_age: Option<u64>,
    /// `s-maxage`.
    pub s_maxage: Option<u64>,
    /// `no-store`.
    pub no_store: bool,
    /// `no-cache` (with or without field names: Vitrine treats both as the whole response).
    pub no_cache: bool,
    /// `private` (with or without field names).
    pub private: bool,
    /// `public`.
    pub public: bool,
    /// `must-revalidate`.
    pub must_revalidate: bool,
    /// `proxy-revalidate`.
    pub proxy_revalidate: bool,
    /// `stale-while-revalidate` (RFC 5861).
    pub stale_while_revalidate: Option<u64>,
    /// `stale-if-error` (RFC 5861).
    pub stale_if_error: Option<u64>,
    /// Request `max-stale`: `Some(None)` means any staleness.
    pub max_stale: Option<Option<u64>>,
    /// Request `min-fresh`.
    pub min_fresh: Option<u64>,
    /// A directive appeared twice with different values, or a number did not parse.
    pub invalid: bool,
}

impl Directives {
    /// Parses every `Cache-Control` field of `headers`.
    pub fn parse(headers: &HeaderMap) -> Self {
        let mut d = Directives::default();
        for value in headers.get_all(header::CACHE_CONTROL) {
            let Ok(value) = value.to_str() else {
                d.invalid = true;
                continue;
            };
            for part in split_directives(value) {
                let (name, arg) = match part.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (part.trim(), None),
                };
                let name = name.to_ascii_lowercase();
                let seconds = |slot: &mut Option<u64>| match arg.map(str::parse::<u64>) {
                    Some(Ok(n)) => match *slot {
                        Some(old) if old != n => true,
                        _ => {
                            *slot = Some(n);
                            false
                        }
                    },
                    _ => true,
                };
                let bad = match name.as_str() {
                    "max-age" => seconds(&mut d.max_age),
                    "s-maxage" => seconds(&mut d.s_maxage),
                    "stale-while-revalidate" => seconds(&mut d.stale_while_revalidate),
                    "stale-if-error" => seconds(&mut d.stale_if_error),
                    "min-fresh" => seconds(&mut d.min_fresh),
                    "max-stale" => match arg {
                        None => {
                            d.max_stale = Some(None);
                            false
                        }
                        Some(_) => {
                            let mut n = d.max_stale.flatten();
                            let bad = seconds(&mut n);
                            d.max_stale = Some(n);
                            bad
                        }
                    },
                    "no-store" => set(&mut d.no_store),
                    "no-cache" => set(&mut d.no_cache),
                    "private" => set(&mut d.private),
                    "public" => set(&mut d.public),
                    "must-revalidate" => set(&mut d.must_revalidate),
                    "proxy-revalidate" => set(&mut d.proxy_revalidate),
                    // Unknown directives are ignored (§5.2.3).
                    _ => false,
                };
                d.invalid |= bad;
            }
        }
        d
    }
}

fn set(flag: &mut bool) -> bool {
    *flag = true;
    false
}

/// Splits a Cache-Control value on commas outside quoted strings
/// (`no-cache="set-cookie, x"` is one directive).
fn split_directives(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty())
}

/// Why a response was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassReason {
    /// Not `GET` or `HEAD`.
    Method,
    /// A status the cache does not store.
    Status,
    /// `no-store` in the request or the response.
    NoStore,
    /// `private`.
    Private,
    /// The request carried `Authorization` and the response did not allow sharing it.
    Authorization,
    /// The response sets a cookie.
    SetCookie,
    /// `Vary: *`.
    VaryStar,
    /// Nothing says it may be stored: no freshness, not `public`, status not cacheable by default.
    NotCacheable,
}

impl PassReason {
    /// A short label, for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            PassReason::Method => "method",
            PassReason::Status => "status",
            PassReason::NoStore => "no-store",
            PassReason::Private => "private",
            PassReason::Authorization => "authorization",
            PassReason::SetCookie => "set-cookie",
            PassReason::VaryStar => "vary-star",
            PassReason::NotCacheable => "not-cacheable",
        }
    }
}

/// What a stored response may be used for, fixed when it was stored (and
/// recomputed when a 304 updates its headers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// How long it is fresh, from its generation at the origin.
    pub lifetime: Duration,
    /// Its age when it was received (§4.2.3 `corrected_initial_age`).
    pub initial_age: Duration,
    /// When it was received.
    pub response_time: SystemTime,
    /// Never served without validation (`no-cache`).
    pub always_validate: bool,
    /// Never served stale (`must-revalidate`, `proxy-revalidate`, `s-maxage`
    /// without explicit stale windows).
    pub never_stale: bool,
    /// How long past its lifetime it may be served while refreshed in the background.
    pub stale_while_revalidate: Duration,
    /// How long past its lifetime it may be served when the origin fails.
    pub stale_if_error: Duration,
    /// The request headers its `Vary` names, lower-case, in order.
    pub vary: Vec<HeaderName>,
}

/// What a lookup may do with a stored response, now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Serve it.
    Fresh,
    /// Serve it and refresh it in the background (once).
    StaleWhileRevalidate,
    /// Validate it with the origin first; if the origin fails, it may still
    /// be served (`stale-if-error`) when `on_error` says so.
    Validate {
        /// Serving it when the origin fails or times out is allowed.
        on_error: bool,
    },
}

/// The request directives a lookup honours (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestRules<'a> {
    /// The request's directives, if the route honours them.
    pub directives: Option<&'a Directives>,
}

impl Stored {
    /// Its current age (§4.2.3), at `now`.
    pub fn age(&self, now: SystemTime) -> Duration {
        self.initial_age + now.duration_since(self.response_time).unwrap_or_default()
    }

    /// How long it stays fresh, at `now` (zero once stale).
    pub fn time_to_live(&self, now: SystemTime) -> Duration {
        self.lifetime.saturating_sub(self.age(now))
    }

    /// How long the cache should keep it: its lifetime plus whichever stale
    /// window is longer, or its lifetime when it is validated on every use.
    pub fn retention(&self, now: SystemTime) -> Duration {
        let stale = if self.never_stale {
            Duration::ZERO
        } else {
            self.stale_while_revalidate.max(self.stale_if_error)
        };
        (self.lifetime + stale).saturating_sub(self.age(now))
    }

    /// What a request may do with it at `now`.
    pub fn usable(&self, now: SystemTime, rules: RequestRules<'_>) -> Use {
        let age = self.age(now);
        let on_error = !self.never_stale && age < self.lifetime + self.stale_if_error;
        if self.always_validate {
            return Use::Validate { on_error };
        }
        if let Some(req) = rules.directives {
            let too_old = req.max_age.is_some_and(|max| age > Duration::from_secs(max));
            let too_close = req
                .min_fresh
                .is_some_and(|min| self.lifetime.saturating_sub(age) < Duration::from_secs(min));
            if req.no_cache || too_old || too_close {
                return Use::Validate { on_error };
            }
            if age >= self.lifetime && !self.never_stale {
                let stale_for = age - self.lifetime;
                let accepted = match req.max_stale {
                    Some(None) => true,
                    Some(Some(max)) => stale_for <= Duration::from_secs(max),
                    None => false,
                };
                if accepted {
                    return Use::Fresh;
                }
            }
        }
        if age < self.lifetime {
            Use::Fresh
        } else if !self.never_stale && age < self.lifetime + self.stale_while_revalidate {
            Use::StaleWhileRevalidate
        } else {
            Use::Validate { on_error }
        }
    }
}

/// Decides whether a response may be stored, and how it may be used.
///
/// `request_time` is when the request left for the origin, `response_time`
/// when its answer arrived; `request` are the headers the cache sent.
pub fn evaluate(
    method: &Method,
    request: &HeaderMap,
    status: StatusCode,
    response: &HeaderMap,
    request_time: SystemTime,
    response_time: SystemTime,
) -> Result<Stored, PassReason> {
    if method != Method::GET && method != Method::HEAD {
        return Err(PassReason::Method);
    }
    if !understood(status) {
        return Err(PassReason::Status);
    }
    let req = Directives::parse(request);
    let res = Directives::parse(response);
    if req.no_store || res.no_store {
        return Err(PassReason::NoStore);
    }
    if res.private {
        return Err(PassReason::Private);
    }
    if request.contains_key(header::AUTHORIZATION) && !(res.public || res.s_maxage.is_some() || res.must_revalidate) {
        return Err(PassReason::Authorization);
    }
    if response.contains_key(header::SET_COOKIE) {
        return Err(PassReason::SetCookie);
    }
    let vary = vary_names(response).ok_or(PassReason::VaryStar)?;

    let date = http_date(response, header::DATE);
    let explicit = if res.invalid {
        Some(Duration::ZERO)
    } else if let Some(s) = res.s_maxage {
        Some(Duration::from_secs(s))
    } else if let Some(m) = res.max_age {
        Some(Duration::from_secs(m))
    } else if response.contains_key(header::EXPIRES) {
        // An Expires that does not parse (e.g. "0") means already expired (§5.3).
        let expires = http_date(response, header::EXPIRES);
        Some(match (expires, date.or(Some(response_time))) {
            (Some(expires), Some(base)) => expires.duration_since(base).unwrap_or_default(),
            _ => Duration::ZERO,
        })
    } else {
        None
    };
    let lifetime = match explicit {
        Some(lifetime) => lifetime,
        None if cacheable_by_default(status) || res.public => heuristic(
            date.unwrap_or(response_time),
            http_date(response, header::LAST_MODIFIED),
        ),
        None => return Err(PassReason::NotCacheable),
    };

    // §4.2.3: the corrected initial age.
    let age_value = response
        .get(header::AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    let apparent_age = date
        .and_then(|d| response_time.duration_since(d).ok())
        .unwrap_or_default();
    let response_delay = response_time.duration_since(request_time).unwrap_or_default();
    let initial_age = apparent_age.max(age_value + response_delay);

    Ok(Stored {
        lifetime,
        initial_age,
        response_time,
        always_validate: res.no_cache,
        // s-maxage implies proxy-revalidate (§5.2.2.10), unless the origin
        // grants stale windows explicitly (RFC 5861) beside it: the more
        // specific permission wins, as in Fastly and Varnish.
        never_stale: res.must_revalidate
            || res.proxy_revalidate
            || res.invalid
            || (res.s_maxage.is_some() && res.stale_while_revalidate.is_none() && res.stale_if_error.is_none()),
        stale_while_revalidate: Duration::from_secs(res.stale_while_revalidate.unwrap_or(0)),
        stale_if_error: Duration::from_secs(res.stale_if_error.unwrap_or(0)),
        vary,
    })
}

/// 10 % of the time since the last modification, at most a day; zero
/// without `Last-Modified`.
fn heuristic(date: SystemTime, last_modified: Option<SystemTime>) -> Duration {
    last_modified
        .and_then(|lm| date.duration_since(lm).ok())
        .map_or(Duration::ZERO, |since| (since / 10).min(MAX_HEURISTIC))
}

/// The request header names a response varies on; `None` for `Vary: *`.
pub fn vary_names(response: &HeaderMap) -> Option<Vec<HeaderName>> {
    let mut names: Vec<HeaderName> = Vec::new();
    for value in response.get_all(header::VARY) {
        for name in value
            .to_str()
            .unwrap_or("*")
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if name == "*" {
                return None;
            }
            match HeaderName::from_bytes(name.as_bytes()) {
                Ok(name) if !names.contains(&name) => names.push(name),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }
    Some(names)
}

/// Whether `request` presents the same values as `stored_request` for every
/// header in `vary` (§4.1: both absent matches; values compared after
/// joining repeated fields with ", ").
pub fn vary_matches(vary: &[HeaderName], stored_request: &HeaderMap, request: &HeaderMap) -> bool {
    vary.iter()
        .all(|name| joined(stored_request, name) == joined(request, name))
}

fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<Vec<u8>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    let mut out = first.as_bytes().to_vec();
    for value in values {
        out.extend_from_slice(b", ");
        out.extend_from_slice(value.as_bytes());
    }
    Some(out)
}

fn http_date(headers: &HeaderMap, name: HeaderName) -> Option<SystemTime> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v.trim()).ok())
}

/// Formats `time` as an HTTP date.
pub fn format_http_date(time: SystemTime) -> HeaderValue {
    HeaderValue::from_str(&httpdate::fmt_http_date(time)).unwrap_or_else(|_| HeaderValue::from_static(""))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;

    const T0: u64 = 1_800_000_000;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn get(response: &[(&str, &str)]) -> Result<Stored, PassReason> {
        get_with(&[], 200, response)
    }

    fn get_with(request: &[(&str, &str)], status: u16, response: &[(&str, &str)]) -> Result<Stored, PassReason> {
        evaluate(
            &Method::GET,
            &headers(request),
            StatusCode::from_u16(status).unwrap(),
            &headers(response),
            at(T0),
            at(T0),
        )
    }

    #[test]
    fn directives_parse_with_quotes_case_and_conflicts() {
        let d = Directives::parse(&headers(&[
            ("cache-control", "Public, MAX-AGE=60, no-cache=\"set-cookie, x-id\""),
            (
                "cache-control",
                "s-maxage=\"300\", stale-while-revalidate=30, x-unknown=1",
            ),
        ]));
        assert!(d.public && d.no_cache && !d.invalid);
        assert_eq!(
            (d.max_age, d.s_maxage, d.stale_while_revalidate),
            (Some(60), Some(300), Some(30))
        );
        assert!(Directives::parse(&headers(&[("cache-control", "max-age=60, max-age=61")])).invalid);
        assert!(!Directives::parse(&headers(&[("cache-control", "max-age=60, max-age=60")])).invalid);
        assert!(Directives::parse(&headers(&[("cache-control", "max-age=soon")])).invalid);
        let req = Directives::parse(&headers(&[("cache-control", "max-stale, min-fresh=5")]));
        assert_eq!((req.max_stale, req.min_fresh), (Some(None), Some(5)));
    }

    #[test]
    fn freshness_comes_from_s_maxage_then_max_age_then_expires() {
        let both = get(&[("cache-control", "max-age=60, s-maxage=300")]).unwrap();
        assert_eq!(both.lifetime, Duration::from_secs(300));
        assert!(both.never_stale, "s-maxage implies proxy-revalidate");
        let max_age = get(&[("cache-control", "max-age=60")]).unwrap();
        assert_eq!(max_age.lifetime, Duration::from_secs(60));
        assert!(!max_age.never_stale);
        let date = httpdate::fmt_http_date(at(T0 - 10));
        let expires = httpdate::fmt_http_date(at(T0 + 110));
        let by_expires = get(&[("date", &date), ("expires", &expires)]).unwrap();
        assert_eq!(by_expires.lifetime, Duration::from_secs(120));
        assert_eq!(by_expires.initial_age, Duration::from_secs(10));
        assert_eq!(
            get(&[("expires", "0")])
                .unwrap()
                .usable(at(T0), RequestRules::default()),
            Use::Validate { on_error: false }
        );
        // Conflicting directives: stored, but stale at once and never served stale.
        let invalid = get(&[("cache-control", "max-age=60, max-age=600, stale-if-error=60")]).unwrap();
        assert_eq!(invalid.lifetime, Duration::ZERO);
        assert_eq!(
            invalid.usable(at(T0), RequestRules::default()),
            Use::Validate { on_error: false }
        );
    }

    #[test]
    fn heuristic_freshness_only_where_the_rfc_allows() {
        let date = httpdate::fmt_http_date(at(T0));
        let modified = httpdate::fmt_http_date(at(T0 - 1_000));
        let h = get(&[("date", &date), ("last-modified", &modified)]).unwrap();
        assert_eq!(h.lifetime, Duration::from_secs(100));
        let old = httpdate::fmt_http_date(at(T0 - 100 * 86_400));
        assert_eq!(
            get(&[("date", &date), ("last-modified", &old)]).unwrap().lifetime,
            MAX_HEURISTIC
        );
        // 302 is not cacheable by default: no heuristic, not stored…
        assert_eq!(
            get_with(&[], 302, &[("last-modified", &modified)]),
            Err(PassReason::NotCacheable)
        );
        // …unless explicitly fresh.
        assert!(get_with(&[], 302, &[("cache-control", "max-age=5")]).is_ok());
        assert_eq!(
            get_with(&[], 206, &[("cache-control", "max-age=5")]),
            Err(PassReason::Status)
        );
        assert_eq!(
            get_with(&[], 500, &[("cache-control", "max-age=5")]),
            Err(PassReason::Status)
        );
    }

    #[test]
    fn what_a_shared_cache_must_not_store() {
        assert_eq!(
            get(&[("cache-control", "no-store, max-age=60")]),
            Err(PassReason::NoStore)
        );
        assert_eq!(
            get_with(
                &[("cache-control", "no-store")],
                200,
                &[("cache-control", "max-age=60")]
            ),
            Err(PassReason::NoStore)
        );
        assert_eq!(
            get(&[("cache-control", "private, max-age=60")]),
            Err(PassReason::Private)
        );
        assert_eq!(
            get(&[("cache-control", "max-age=60"), ("set-cookie", "sid=1")]),
            Err(PassReason::SetCookie)
        );
        assert_eq!(
            get(&[("cache-control", "max-age=60"), ("vary", "Accept, *")]),
            Err(PassReason::VaryStar)
        );
        let post = evaluate(
            &Method::POST,
            &HeaderMap::new(),
            StatusCode::OK,
            &headers(&[("cache-control", "max-age=60")]),
            at(T0),
            at(T0),
        );
        assert_eq!(post, Err(PassReason::Method));
    }

    #[test]
    fn authorized_requests_are_shared_only_when_the_response_allows() {
        let auth = [("authorization", "Bearer t")];
        assert_eq!(
            get_with(&auth, 200, &[("cache-control", "max-age=60")]),
            Err(PassReason::Authorization)
        );
        for allowed in ["public, max-age=60", "s-maxage=60", "max-age=60, must-revalidate"] {
            assert!(get_with(&auth, 200, &[("cache-control", allowed)]).is_ok(), "{allowed}");
        }
    }

    #[test]
    fn age_counts_the_origins_age_the_round_trip_and_residence() {
        let date = httpdate::fmt_http_date(at(T0 - 2));
        let stored = evaluate(
            &Method::GET,
            &HeaderMap::new(),
            StatusCode::OK,
            &headers(&[("cache-control", "max-age=60"), ("age", "5"), ("date", &date)]),
            at(T0 - 1),
            at(T0),
        )
        .unwrap();
        // apparent age 2 s; Age 5 s + 1 s round trip = 6 s wins.
        assert_eq!(stored.initial_age, Duration::from_secs(6));
        assert_eq!(stored.age(at(T0 + 10)), Duration::from_secs(16));
        assert_eq!(stored.time_to_live(at(T0 + 10)), Duration::from_secs(44));
    }

    #[test]
    fn stale_while_revalidate_then_stale_if_error_then_validate() {
        let s = get(&[(
            "cache-control",
            "max-age=10, stale-while-revalidate=20, stale-if-error=100",
        )])
        .unwrap();
        let rules = RequestRules::default();
        assert_eq!(s.usable(at(T0 + 9), rules), Use::Fresh);
        assert_eq!(s.usable(at(T0 + 10), rules), Use::StaleWhileRevalidate);
        assert_eq!(s.usable(at(T0 + 29), rules), Use::StaleWhileRevalidate);
        assert_eq!(s.usable(at(T0 + 30), rules), Use::Validate { on_error: true });
        assert_eq!(s.usable(at(T0 + 110), rules), Use::Validate { on_error: false });
        assert_eq!(s.retention(at(T0)), Duration::from_secs(110));

        for never in ["must-revalidate", "proxy-revalidate"] {
            let cc = format!("max-age=10, stale-while-revalidate=20, stale-if-error=100, {never}");
            let s = get(&[("cache-control", &cc)]).unwrap();
            assert_eq!(
                s.usable(at(T0 + 15), rules),
                Use::Validate { on_error: false },
                "{never}"
            );
            assert_eq!(s.retention(at(T0)), Duration::from_secs(10));
        }
        // The origin's catalog pages: s-maxage with explicit stale windows.
        let origin = get(&[(
            "cache-control",
            "public, max-age=0, s-maxage=10, stale-while-revalidate=20, stale-if-error=100",
        )])
        .unwrap();
        assert_eq!(origin.usable(at(T0 + 15), rules), Use::StaleWhileRevalidate);
        assert_eq!(origin.usable(at(T0 + 50), rules), Use::Validate { on_error: true });
        let no_cache = get(&[("cache-control", "max-age=60, no-cache, stale-if-error=60")]).unwrap();
        assert_eq!(no_cache.usable(at(T0), rules), Use::Validate { on_error: true });
    }

    #[test]
    fn request_directives_count_only_when_honoured() {
        let s = get(&[("cache-control", "max-age=60")]).unwrap();
        let reload = Directives::parse(&headers(&[("cache-control", "max-age=0")]));
        assert_eq!(s.usable(at(T0 + 5), RequestRules::default()), Use::Fresh);
        let honoured = RequestRules {
            directives: Some(&reload),
        };
        // Still fresh, so if the origin fails it may be served anyway.
        assert_eq!(s.usable(at(T0 + 5), honoured), Use::Validate { on_error: true });
        let min_fresh = Directives::parse(&headers(&[("cache-control", "min-fresh=30")]));
        let rules = RequestRules {
            directives: Some(&min_fresh),
        };
        assert_eq!(s.usable(at(T0 + 20), rules), Use::Fresh);
        assert_eq!(s.usable(at(T0 + 40), rules), Use::Validate { on_error: true });
        let max_stale = Directives::parse(&headers(&[("cache-control", "max-stale=10")]));
        let rules = RequestRules {
            directives: Some(&max_stale),
        };
        assert_eq!(s.usable(at(T0 + 65), rules), Use::Fresh);
        assert_eq!(s.usable(at(T0 + 75), rules), Use::Validate { on_error: false });
    }

    #[test]
    fn vary_selects_on_the_named_request_headers() {
        let vary = vary_names(&headers(&[
            ("vary", "Accept-Language, accept-encoding"),
            ("vary", "Accept-Language"),
        ]))
        .unwrap();
        assert_eq!(vary, [header::ACCEPT_LANGUAGE, header::ACCEPT_ENCODING]);
        let stored = headers(&[("accept-language", "en-ZA"), ("accept-encoding", "gzip")]);
        assert!(vary_matches(
            &vary,
            &stored,
            &headers(&[("accept-encoding", "gzip"), ("accept-language", "en-ZA")])
        ));
        assert!(!vary_matches(
            &vary,
            &stored,
            &headers(&[("accept-language", "af-ZA"), ("accept-encoding", "gzip")])
        ));
        assert!(!vary_matches(&vary, &stored, &headers(&[("accept-language", "en-ZA")])));
        assert!(vary_matches(&vary, &HeaderMap::new(), &HeaderMap::new()));
    }
}
