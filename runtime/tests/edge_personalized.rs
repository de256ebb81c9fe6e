//! Personalization at the edge: one cached listing, personalized per
//! shopper by the route's plugins; a failing plugin falls back to the
//! cached page.

#[path = "edge/harness.rs"]
mod harness;

use std::path::Path;

use harness::{EdgeUnderTest, Origin, SECRET, client, page, x_cache};
use vitrine_runtime::edge::personalize::{ContextClaims, sign_context};
use vitrine_runtime::testing::first_party_plugin;

fn listing() -> String {
    let product = |id: &str, category: &str| {
        serde_json::json!({
            "id": id, "sku": format!("SKU-{id}"), "name": format!("Product {id}"), "brand": "Acme",
            "category": category, "price": { "amount_minor": 10_000, "currency": "ZAR" }, "in_stock": true,
            "image": format!("/img/{id}.jpg")
        })
    };
    serde_json::json!({
        "category": { "slug": "tools", "name": "Tools" },
        "total": 3,
        "products": [product("1", "paint"), product("2", "power-tools"), product("3", "garden")]
    })
    .to_string()
}

/// The edge's config: the first-party personalization plugin installed as
/// `boost` (trade shoppers see power tools first) on the listings route.
fn routes(component: &Path, deadline_ms: u64) -> String {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/personalization/vitrine-plugin.toml");
    format!(
        "[[routes]]\npath = \"/api/v1/categories/*\"\npersonalize = [\"boost\"]\n\n\
         [plugins.boost]\ncomponent = \"{}\"\nmanifest = \"{}\"\ngrants = [\"config\"]\n\
         config = {{ segment_categories = \"trade=power-tools\" }}\nlimits = {{ deadline_ms = {deadline_ms} }}\n",
        component.display(),
        manifest.display()
    )
}

fn ids(body: &str) -> Vec<String> {
    let page: serde_json::Value = serde_json::from_str(body).expect("json");
    page["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_cached_listing_is_personalized_per_shopper() {
    let origin = Origin::start().await;
    origin.on("/api/v1/categories/tools/products", |_, _| {
        let (status, mut headers, body) = page("public, max-age=600", listing());
        headers.push(("etag", "\"shared\"".into()));
        (status, headers, body)
    });
    let component = first_party_plugin("personalization").unwrap_or_else(|e| panic!("{e}"));
    let edge = EdgeUnderTest::start(origin.addr, "", &routes(&component, 10_000)).await;
    let http = client();
    let url = edge.url("/api/v1/categories/tools/products");

    let trade = sign_context(
        SECRET.as_bytes(),
        &ContextClaims {
            segments: vec!["trade".into()],
            exp: u64::MAX / 2,
            ..ContextClaims::default()
        },
    );
    let r = http
        .get(&url)
        .header("cookie", format!("vitrine_ctx={trade}"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-personalized"], "yes");
    assert_eq!(x_cache(&r), "MISS");
    assert!(
        r.headers()["cache-control"]
            .to_str()
            .expect("ascii")
            .starts_with("private")
    );
    assert!(
        r.headers().get("etag").is_none(),
        "the shared page's validator is not this page's"
    );
    let body = r.text().await.expect("body");
    assert_eq!(ids(&body), ["2", "1", "3"], "power tools first for the trade");
    assert!(body.contains("/img/2.jpg"), "the origin's fields are kept");

    // Another shopper, the same cached copy: the origin's order.
    let r = http.get(&url).send().await.expect("get");
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(ids(&r.text().await.expect("body")), ["1", "2", "3"]);

    // A forged cookie is no context at all.
    let forged = format!("{}0", trade.trim_end_matches(char::is_alphanumeric));
    let r = http
        .get(&url)
        .header("cookie", format!("vitrine_ctx={forged}"))
        .send()
        .await
        .expect("get");
    assert_eq!(ids(&r.text().await.expect("body")), ["1", "2", "3"]);
    assert_eq!(origin.count("/api/v1/categories/tools/products"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_personalization_falls_back_to_the_cached_page() {
    let origin = Origin::start().await;
    // Not a listing: the plugin has nothing to work on.
    origin.on("/api/v1/categories/tools/products", |_, _| {
        page("public, max-age=600", "{\"oops\":true}".into())
    });
    let component = first_party_plugin("personalization").unwrap_or_else(|e| panic!("{e}"));
    let edge = EdgeUnderTest::start(origin.addr, "", &routes(&component, 10_000)).await;
    let r = client()
        .get(edge.url("/api/v1/categories/tools/products"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-personalized"], "failed");
    assert_eq!(r.text().await.expect("body"), "{\"oops\":true}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shoppers_next_hit_reuses_their_page_until_the_page_changes() {
    let origin = Origin::start().await;
    origin.on("/api/v1/categories/tools/products", |_, _| {
        let (status, mut headers, body) = page("public, max-age=600", listing());
        headers.push(("surrogate-key", "listing:tools".into()));
        (status, headers, body)
    });
    let component = first_party_plugin("personalization").unwrap_or_else(|e| panic!("{e}"));
    let edge = EdgeUnderTest::start(origin.addr, "", &routes(&component, 10_000)).await;
    let http = client();
    let url = edge.url("/api/v1/categories/tools/products");
    let cookie = |claims: ContextClaims| format!("vitrine_ctx={}", sign_context(SECRET.as_bytes(), &claims));
    let trade = cookie(ContextClaims {
        segments: vec!["trade".into()],
        exp: u64::MAX / 2,
        ..ContextClaims::default()
    });
    let gardener = cookie(ContextClaims {
        recent_categories: vec!["garden".into()],
        exp: u64::MAX / 2,
        ..ContextClaims::default()
    });
    let plugin_calls = || {
        edge.edge
            .plugins()
            .and_then(|h| h.counters("boost"))
            .map_or(0, |c| c.calls)
    };
    let get = |cookie: &String| {
        let request = http.get(&url).header("cookie", cookie.clone());
        async move {
            let r = request.send().await.expect("get");
            assert_eq!(r.headers()["x-personalized"], "yes");
            (x_cache(&r), ids(&r.text().await.expect("body")))
        }
    };

    // The first hit calls the plugin; the same shopper's next ones do not.
    for expected in ["MISS", "HIT", "HIT"] {
        assert_eq!(
            get(&trade).await,
            (expected.into(), vec!["2".into(), "1".into(), "3".into()])
        );
    }
    assert_eq!(plugin_calls(), 1);

    // Another context is its own page.
    assert_eq!(get(&gardener).await.1, ["3", "1", "2"]);
    assert_eq!(plugin_calls(), 2);
    assert_eq!(get(&gardener).await.1, ["3", "1", "2"]);
    assert_eq!(plugin_calls(), 2);

    // A new copy of the page (purged, fetched again) is personalized anew.
    assert_eq!(edge.edge.store.purge_key("listing:tools"), 1);
    assert_eq!(get(&trade).await.0, "MISS");
    assert_eq!(plugin_calls(), 3);
    assert_eq!(origin.count("/api/v1/categories/tools/products"), 2);
}
