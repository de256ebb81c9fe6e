//! Personalization at the edge: the shopper's context from the signed
//! `vitrine_ctx` cookie, and a cached category listing reordered for that
//! shopper by the first-party personalization plugin, built from source.

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::HeaderMap;
use http::header::{ACCEPT_LANGUAGE, COOKIE};
use serde_json::{Value, json};
use sha2::Sha256;
use vitrine_runtime::edge::personalize::{
    ContextClaims, ContextSecrets, ListingPage, PersonalizeError, context_from_headers, personalize_listing,
    shopper_context, sign_context,
};
use vitrine_runtime::plugins::types::ShopperContext;
use vitrine_runtime::plugins::{ConfigGrant, EngineConfig, Grants, Limits, PluginError, PluginHost, PluginSpec, World};
use vitrine_runtime::testing::first_party_plugin;

const SECRET: &[u8] = b"edge-context-secret";
const NOW: u64 = 1_750_000_000;

// ---------------------------------------------------------------- context

fn claims() -> ContextClaims {
    ContextClaims {
        segments: vec!["trade".into(), "vip".into()],
        recent: vec!["p-drill".into(), "p-brush".into()],
        recent_categories: vec!["power-tools".into(), "paint".into()],
        exp: NOW + 3600,
    }
}

fn headers(cookie: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, cookie.parse().expect("a valid header value"));
    headers
}

/// A cookie value signed with `secret` over exactly `payload` (no checks).
fn signed_raw(secret: &[u8], payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(payload.as_bytes());
    format!("{payload}.{}", hex::encode(mac.finalize().into_bytes()))
}

/// A correctly signed cookie value carrying `json` verbatim.
fn signed_json(json: &Value) -> String {
    signed_raw(SECRET, &URL_SAFE_NO_PAD.encode(json.to_string()))
}

fn context(cookie_value: &str) -> ShopperContext {
    context_from_headers(
        &headers(&format!("theme=dark; vitrine_ctx={cookie_value}; other=1")),
        Some(SECRET),
        NOW,
    )
}

fn assert_empty(context: &ShopperContext, what: &str) {
    assert!(
        context.segments.is_empty() && context.recently_viewed.is_empty() && context.recent_categories.is_empty(),
        "{what}: expected an empty context, got {context:?}"
    );
}

#[test]
fn a_valid_cookie_gives_its_segments_recent_products_and_categories() {
    let context = context(&sign_context(SECRET, &claims()));
    assert_eq!(context.segments, ["trade", "vip"]);
    assert_eq!(context.recently_viewed, ["p-drill", "p-brush"]);
    assert_eq!(context.recent_categories, ["power-tools", "paint"]);
    assert!(context.on_promotion.is_empty(), "a shopper cannot claim promotions");
}

#[test]
fn a_cookie_that_is_forged_expired_or_malformed_gives_an_empty_context() {
    let good = sign_context(SECRET, &claims());
    // The control: the same jar with the good cookie is read.
    assert_eq!(context(&good).segments, ["trade", "vip"]);

    let (payload, mac) = good.rsplit_once('.').expect("payload.mac");
    assert_empty(
        &context(&sign_context(b"another-secret", &claims())),
        "signed with another secret",
    );
    let mut vip = claims();
    vip.segments = vec!["staff".into()];
    let other_payload = sign_context(SECRET, &vip);
    let other_payload = other_payload.split_once('.').expect("payload.mac").0;
    assert_empty(
        &context(&format!("{other_payload}.{mac}")),
        "payload swapped under a good mac",
    );
    assert_empty(&context(&format!("{payload}.{}", "0".repeat(64))), "zero mac");
    assert_empty(&context(payload), "no mac");
    assert_empty(&context(&format!("{payload}.{}", &mac[..10])), "truncated mac");

    let expired = ContextClaims { exp: NOW, ..claims() };
    assert_empty(&context(&sign_context(SECRET, &expired)), "expired (exp = now)");
    let expired = ContextClaims {
        exp: NOW - 1,
        ..claims()
    };
    assert_empty(&context(&sign_context(SECRET, &expired)), "expired");

    // Correctly signed, but the payload is not base64url / not the JSON we write.
    assert_empty(&context(&signed_raw(SECRET, "not*base64!")), "malformed base64");
    assert_empty(
        &context(&signed_raw(SECRET, &URL_SAFE_NO_PAD.encode("{nope"))),
        "not JSON",
    );
    assert_empty(
        &context(&signed_json(
            &json!({"segments": ["trade"], "exp": NOW + 60, "staff": true}),
        )),
        "unknown field",
    );
    assert_empty(&context(&signed_json(&json!({"segments": ["trade"]}))), "no exp");

    // Correctly signed, over the caps.
    let many: Vec<String> = (0..17).map(|i| format!("s{i}")).collect();
    assert_empty(
        &context(&signed_json(&json!({"segments": many, "exp": NOW + 60}))),
        "17 segments",
    );
    assert_empty(
        &context(&signed_json(&json!({"recent": ["x".repeat(65)], "exp": NOW + 60}))),
        "a 65-byte id",
    );
    let big: Vec<String> = (0..20).map(|i| format!("{i}{}", "x".repeat(200))).collect();
    let oversized = signed_json(&json!({"recent": big, "exp": NOW + 60}));
    assert!(oversized.len() > 4096);
    assert_empty(&context(&oversized), "cookie over 4 KiB");

    // No secret configured: nothing is trusted.
    let no_secret = context_from_headers(&headers(&format!("vitrine_ctx={good}")), None, NOW);
    assert_empty(&no_secret, "no secret");
}

// ------------------------------------------------------------ the token

const TOKEN_SECRET: &[u8] = b"the-origin-access-token-secret-32+";

/// An access token shaped like the origin's (HS256 JWT, issuer
/// `vitrine-origin`) with `claims` merged over the usual ones.
fn token(secret: &[u8], algorithm: jsonwebtoken::Algorithm, claims: Value) -> String {
    let mut all = json!({
        "sub": "7f6c1b3e-2d4a-4e5f-9a8b-0c1d2e3f4a5b",
        "role": "shopper",
        "iat": NOW - 10,
        "exp": NOW + 900,
        "iss": "vitrine-origin",
    });
    for (k, v) in claims.as_object().expect("an object") {
        if v.is_null() {
            all.as_object_mut().unwrap().remove(k);
        } else {
            all[k] = v.clone();
        }
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(algorithm),
        &all,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("encode")
}

fn with_token(cookie: &str, authorization: &str) -> ShopperContext {
    let mut h = headers(&format!("vitrine_ctx={cookie}"));
    h.insert(
        http::header::AUTHORIZATION,
        authorization.parse().expect("header value"),
    );
    let secrets = ContextSecrets {
        cookie: Some(SECRET),
        token: Some(TOKEN_SECRET),
    };
    shopper_context(&h, secrets, NOW)
}

#[test]
fn a_verified_access_token_gives_the_segments_and_the_cookie_the_recent_views() {
    let cookie = sign_context(SECRET, &claims());
    let bearer = format!(
        "Bearer {}",
        token(
            TOKEN_SECRET,
            jsonwebtoken::Algorithm::HS256,
            json!({"seg": ["pro-builder"]})
        )
    );
    let context = with_token(&cookie, &bearer);
    assert_eq!(
        context.segments,
        ["pro-builder"],
        "the token's segments replace the cookie's"
    );
    assert_eq!(
        context.recently_viewed,
        ["p-drill", "p-brush"],
        "recent views still from the cookie"
    );
    assert_eq!(context.recent_categories, ["power-tools", "paint"]);

    // A verified token without segments: the customer has none.
    let none = format!(
        "Bearer {}",
        token(TOKEN_SECRET, jsonwebtoken::Algorithm::HS256, json!({}))
    );
    assert!(with_token(&cookie, &none).segments.is_empty());
}

#[test]
fn a_token_that_does_not_verify_leaves_the_cookie_context() {
    let cookie = sign_context(SECRET, &claims());
    let hs256 = jsonwebtoken::Algorithm::HS256;
    let seg = |extra: Value| {
        let mut claims = json!({"seg": ["staff"]});
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        claims
    };
    let good = token(TOKEN_SECRET, hs256, seg(json!({})));
    assert_eq!(
        with_token(&cookie, &format!("Bearer {good}")).segments,
        ["staff"],
        "the control"
    );

    let (head_and_payload, _) = good.rsplit_once('.').unwrap();
    let many: Vec<String> = (0..17).map(|i| format!("s{i}")).collect();
    let cases = [
        (
            format!(
                "Bearer {}",
                token(b"another-secret-another-secret-xx", hs256, seg(json!({})))
            ),
            "another secret",
        ),
        (format!("Bearer {head_and_payload}.AAAA"), "a forged signature"),
        (format!("Bearer {head_and_payload}."), "no signature"),
        (
            format!("Bearer {}", token(TOKEN_SECRET, hs256, seg(json!({"exp": NOW})))),
            "expired (exp = now)",
        ),
        (
            format!("Bearer {}", token(TOKEN_SECRET, hs256, seg(json!({"exp": null})))),
            "no exp",
        ),
        (
            format!(
                "Bearer {}",
                token(TOKEN_SECRET, hs256, seg(json!({"iss": "someone-else"})))
            ),
            "another issuer",
        ),
        (
            format!(
                "Bearer {}",
                token(TOKEN_SECRET, jsonwebtoken::Algorithm::HS512, seg(json!({})))
            ),
            "HS512, not HS256",
        ),
        (
            format!("Bearer {}", token(TOKEN_SECRET, hs256, json!({"seg": many}))),
            "17 segments",
        ),
        (
            format!(
                "Bearer {}",
                token(TOKEN_SECRET, hs256, json!({"seg": ["x".repeat(65)]}))
            ),
            "a 65-byte segment",
        ),
        (
            format!("Bearer {}", token(TOKEN_SECRET, hs256, json!({"seg": "staff"}))),
            "seg not a list",
        ),
        (format!("Basic {good}"), "not a bearer token"),
        (format!("Bearer {}", "a".repeat(5000)), "over 4 KiB"),
    ];
    for (authorization, why) in &cases {
        assert_eq!(
            with_token(&cookie, authorization).segments,
            ["trade", "vip"],
            "{why}: the cookie's segments stand"
        );
    }
    // An unsigned token (`alg: none`), built by hand.
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let payload = head_and_payload.split_once('.').unwrap().1;
    let unsigned = format!("Bearer {none_header}.{payload}.");
    assert_eq!(with_token(&cookie, &unsigned).segments, ["trade", "vip"], "alg none");

    // No token secret configured: tokens are not read.
    let mut h = headers(&format!("vitrine_ctx={cookie}"));
    h.insert(http::header::AUTHORIZATION, format!("Bearer {good}").parse().unwrap());
    let cookie_only = ContextSecrets {
        cookie: Some(SECRET),
        token: None,
    };
    assert_eq!(shopper_context(&h, cookie_only, NOW).segments, ["trade", "vip"]);
}

#[test]
fn a_cookie_within_the_caps_reads_whole() {
    let full = ContextClaims {
        segments: (0..16).map(|i| format!("segment-{i}")).collect(),
        recent: (0..20).map(|i| format!("{i:0>36}")).collect(),
        recent_categories: (0..10).map(|i| format!("category-{i}")).collect(),
        exp: NOW + 60,
    };
    let context = context(&sign_context(SECRET, &full));
    assert_eq!(context.segments, full.segments);
    assert_eq!(context.recently_viewed, full.recent);
    assert_eq!(context.recent_categories, full.recent_categories);
}

#[test]
fn sign_context_keeps_the_newest_views_within_the_caps() {
    let long = ContextClaims {
        recent: (0..30).map(|i| format!("p-{i}")).collect(),
        ..claims()
    };
    let context = context(&sign_context(SECRET, &long));
    assert_eq!(context.recently_viewed.len(), 20);
    assert_eq!(context.recently_viewed.first().map(String::as_str), Some("p-0"));
    assert_eq!(context.recently_viewed.last().map(String::as_str), Some("p-19"));
}

#[test]
fn locale_is_the_preferred_accept_language_lower_cased() {
    let mut headers = HeaderMap::new();
    headers.insert(ACCEPT_LANGUAGE, "de-CH;q=0.8, en-ZA, en;q=0.5".parse().expect("header"));
    assert_eq!(
        context_from_headers(&headers, Some(SECRET), NOW).locale.as_deref(),
        Some("en-za")
    );

    headers.insert(
        ACCEPT_LANGUAGE,
        "de-CH;q=0.8, af;q=0.9, en;q=0.5".parse().expect("header"),
    );
    assert_eq!(context_from_headers(&headers, None, NOW).locale.as_deref(), Some("af"));

    assert_eq!(context_from_headers(&HeaderMap::new(), None, NOW).locale, None);
}

// ---------------------------------------------------------------- pages

fn spec(name: &str, settings: &[(&str, &str)]) -> PluginSpec {
    let grants = Grants {
        config: ConfigGrant {
            values: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            secrets: BTreeMap::new(),
        },
        ..Grants::default()
    };
    // Correctness, not speed: a loaded CI machine can stall a call past the default 50 ms.
    let limits = Limits {
        deadline: Duration::from_secs(10),
        ..Limits::default()
    };
    let wasm = first_party_plugin("personalization").unwrap_or_else(|e| panic!("{e}"));
    PluginSpec::from_path(name, World::Personalization, wasm)
        .with_grants(grants)
        .with_limits(limits)
}

/// `boost`: trade shoppers see power tools first, out-of-stock products last.
/// `hide-sold-out`: the same plugin hiding products out of stock.
fn host() -> PluginHost {
    let host = PluginHost::new(EngineConfig::default(), None).expect("host");
    for spec in [
        spec("boost", &[("segment_categories", "trade=power-tools")]),
        spec(
            "hide-sold-out",
            &[("segment_categories", "trade=power-tools"), ("out_of_stock", "hide")],
        ),
    ] {
        host.install(host.load(spec).expect("the first-party plugin loads"));
    }
    host
}

fn product(id: &str, category: &str, in_stock: bool) -> Value {
    json!({
        "id": id,
        "sku": format!("SKU-{id}"),
        "name": format!("Product {id}"),
        "brand": "Acme",
        "category": category,
        "price": {"amount_minor": 12_990, "currency": "ZAR"},
        "in_stock": in_stock,
        "image": {"url": format!("https://img.example/{id}.jpg"), "alt": id},
    })
}

/// A listing as the origin serves it, sorted by popularity: paint, garden,
/// then the power tools.
fn listing() -> Value {
    json!({
        "category": {"slug": "diy", "name": "DIY", "path": "diy"},
        "total": 57,
        "page": 1,
        "per_page": 6,
        "products": [
            product("paint-1", "paint", true),
            product("garden-1", "garden", true),
            product("drill-1", "power-tools", true),
            product("paint-2", "paint", false),
            product("saw-1", "power-tools", true),
            product("garden-2", "garden", true),
        ],
    })
}

fn trade_shopper() -> ShopperContext {
    ShopperContext {
        segments: vec!["trade".into()],
        locale: Some("en-za".into()),
        recently_viewed: vec![],
        recent_categories: vec![],
        on_promotion: vec!["garden-2".into()],
    }
}

fn run(host: &PluginHost, plugins: &[&str], page: &Value, context: &ShopperContext) -> Value {
    let plugins: Vec<String> = plugins.iter().map(|p| (*p).to_owned()).collect();
    let page = ListingPage::parse(&Bytes::from(page.to_string())).unwrap_or_else(|e| panic!("reading the page: {e}"));
    let body = personalize_listing(host, &plugins, &page, context).unwrap_or_else(|e| panic!("personalizing: {e}"));
    serde_json::from_slice(&body).expect("the personalized page is JSON")
}

fn ids(page: &Value) -> Vec<&str> {
    page["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["id"].as_str().expect("id"))
        .collect()
}

#[test]
fn a_trade_shopper_sees_power_tools_first_with_every_field_kept() {
    let host = host();
    let original = listing();
    let page = run(&host, &["boost"], &original, &trade_shopper());

    // Power tools first, then the page's own order, the sold-out paint last.
    assert_eq!(
        ids(&page),
        ["drill-1", "saw-1", "paint-1", "garden-1", "garden-2", "paint-2"]
    );

    // Every top-level field as the origin sent it.
    for field in ["category", "total", "page", "per_page"] {
        assert_eq!(page[field], original[field], "top-level `{field}`");
    }
    // Every product's own fields (image included), plus the plugin's badges.
    for shown in page["products"].as_array().expect("products") {
        let id = shown["id"].as_str().expect("id");
        let mut expected = product_in(&original, id).clone();
        let badges = if id == "garden-2" {
            json!(["On promotion"])
        } else {
            json!([])
        };
        expected["badges"] = badges;
        assert_eq!(shown, &expected, "product `{id}`");
    }
}

fn product_in<'a>(page: &'a Value, id: &str) -> &'a Value {
    page["products"]
        .as_array()
        .expect("products")
        .iter()
        .find(|p| p["id"] == id)
        .unwrap_or_else(|| panic!("`{id}` on the original page"))
}

#[test]
fn a_shopper_without_context_sees_the_cached_order() {
    let host = host();
    let nobody = context_from_headers(&HeaderMap::new(), Some(SECRET), NOW);
    let page = run(&host, &["boost"], &listing(), &nobody);
    // Only the sold-out product moves (to the end).
    assert_eq!(
        ids(&page),
        ["paint-1", "garden-1", "drill-1", "saw-1", "garden-2", "paint-2"]
    );
}

#[test]
fn recent_categories_from_the_cookie_reorder_the_page() {
    let host = host();
    let cookie = sign_context(
        SECRET,
        &ContextClaims {
            recent_categories: vec!["garden".into()],
            exp: NOW + 60,
            ..ContextClaims::default()
        },
    );
    let context = context_from_headers(&headers(&format!("vitrine_ctx={cookie}")), Some(SECRET), NOW);
    let page = run(&host, &["boost"], &listing(), &context);
    assert_eq!(ids(&page)[..2], ["garden-1", "garden-2"]);
}

#[test]
fn a_product_a_plugin_hides_is_gone_and_plugins_run_in_order() {
    let host = host();
    let page = run(&host, &["hide-sold-out"], &listing(), &trade_shopper());
    assert_eq!(ids(&page), ["drill-1", "saw-1", "paint-1", "garden-1", "garden-2"]);
    // `total` is the origin's count of the category; the plugin does not change it.
    assert_eq!(page["total"], 57);

    // The second plugin works on the first one's answer: the hidden product stays hidden,
    // and a badge the first added is still there once (the plugin does not add it twice).
    let page = run(&host, &["hide-sold-out", "boost"], &listing(), &trade_shopper());
    assert_eq!(ids(&page), ["drill-1", "saw-1", "paint-1", "garden-1", "garden-2"]);
    assert_eq!(product_in(&page, "garden-2")["badges"], json!(["On promotion"]));
}

#[test]
fn badges_already_on_the_page_are_kept() {
    let host = host();
    let mut original = listing();
    original["products"][0]["badges"] = json!(["New"]);
    let page = run(&host, &["boost"], &original, &trade_shopper());
    assert_eq!(product_in(&page, "paint-1")["badges"], json!(["New"]));
}

// ---------------------------------------------------------------- failures

fn fail(host: &PluginHost, plugins: &[&str], body: &[u8]) -> PersonalizeError {
    let plugins: Vec<String> = plugins.iter().map(|p| (*p).to_owned()).collect();
    let page = match ListingPage::parse(&Bytes::copy_from_slice(body)) {
        Ok(page) => page,
        Err(e) => return e,
    };
    match personalize_listing(host, &plugins, &page, &trade_shopper()) {
        Ok(page) => panic!("expected an error, got a page: {}", String::from_utf8_lossy(&page)),
        Err(e) => e,
    }
}

#[test]
fn a_page_that_is_not_a_listing_is_refused() {
    let host = host();
    let product_page = product("drill-1", "power-tools", true).to_string();
    let broken = json!({"products": [{"id": "drill-1", "name": "Drill"}]}).to_string();
    for (what, body) in [
        ("html", "<!doctype html><p>hi</p>".as_bytes()),
        ("truncated json", br#"{"products": [{"id": "#.as_slice()),
        ("a product page", product_page.as_bytes()),
        ("products not an array", br#"{"products": {"id": "x"}}"#.as_slice()),
        ("a product missing fields", broken.as_bytes()),
    ] {
        let error = fail(&host, &["boost"], body);
        assert!(
            matches!(error, PersonalizeError::NotAListing { .. }),
            "{what}: expected NotAListing, got {error:?}"
        );
    }
}

#[test]
fn a_plugin_that_is_not_installed_is_named_in_the_error() {
    let host = host();
    let body = listing().to_string();
    let error = fail(&host, &["boost", "spring-sale"], body.as_bytes());
    match &error {
        PersonalizeError::Plugin { plugin, source } => {
            assert_eq!(plugin, "spring-sale");
            assert!(
                matches!(source, PluginError::NotFound(name) if name == "spring-sale"),
                "{source:?}"
            );
        }
        other => panic!("expected a plugin error, got {other:?}"),
    }
    assert!(error.to_string().contains("`spring-sale`"), "{error}");
}

#[test]
fn the_page_is_kept_byte_for_byte_but_for_the_order_and_the_badges() {
    let host = host();
    // Spacing, escapes, members the edge does not read, a `null` badge list
    // and a page's own badges: what the plugins did not change is copied.
    let paint = r#"{"id":"paint-1","sku":"S-1","name":"Paint \"Deluxe\" \u00e9","brand":"B","category":"paint","price":{"amount_minor":100,"currency":"ZAR"},"in_stock":true,"extra":{"nested":[1, 2.50]},"badges":["New"]}"#;
    let drill = r#"{ "id" : "drill-1", "sku":"S-2","name":"Drill","brand":"B","category":"power-tools","price":{"amount_minor":200,"currency":"ZAR"},"in_stock":true,"badges":null }"#;
    let garden = r#"{"id":"garden-2","sku":"S-3","name":"Hose","brand":"B","category":"garden","price":{"amount_minor":300,"currency":"ZAR"},"in_stock":true}"#;
    let body = format!(r#"{{"total": 3 , "products" : [ {paint} ,{drill}, {garden}] , "note":"\u00e9 [x]"}}"#);
    let page = ListingPage::parse(&Bytes::from(body.clone())).expect("a listing");
    let out = personalize_listing(&host, &["boost".to_owned()], &page, &trade_shopper()).expect("personalized");
    let out = String::from_utf8(out.to_vec()).expect("utf-8");

    let drill_now = r#"{ "id" : "drill-1", "sku":"S-2","name":"Drill","brand":"B","category":"power-tools","price":{"amount_minor":200,"currency":"ZAR"},"in_stock":true,"badges":[] }"#;
    let garden_now = r#"{"id":"garden-2","sku":"S-3","name":"Hose","brand":"B","category":"garden","price":{"amount_minor":300,"currency":"ZAR"},"in_stock":true,"badges":["On promotion"]}"#;
    assert_eq!(
        out,
        format!(r#"{{"total": 3 , "products" : [{drill_now},{paint},{garden_now}] , "note":"\u00e9 [x]"}}"#)
    );
    let value: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(value["products"][1]["name"], "Paint \"Deluxe\" é");
}

#[test]
fn a_listing_with_a_product_twice_or_badges_that_are_not_strings_is_refused() {
    let host = host();
    let twice = json!({"products": [product("a", "paint", true), product("a", "paint", true)]}).to_string();
    let mut odd = product("b", "paint", true);
    odd["badges"] = json!([1]);
    let odd = json!({"products": [odd]}).to_string();
    for (what, body) in [("twice", twice), ("numeric badge", odd)] {
        let error = fail(&host, &["boost"], body.as_bytes());
        assert!(
            matches!(error, PersonalizeError::NotAListing { .. }),
            "{what}: expected NotAListing, got {error:?}"
        );
    }
}
