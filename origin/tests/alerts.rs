//! The Prometheus alert rules that ship with the origin
//! (`origin/alerts/vitrine.rules.yml`) name series the origin exports: an
//! origin that has served a request and applied an ERP change shows, on
//! `/metrics`, every metric the rules read, with the labels and histogram
//! buckets they select on. A renamed metric or a dropped bucket would leave
//! an alert that can never fire; this catches it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use tower::ServiceExt as _;
use vitrine_origin::config::Config;
use vitrine_origin::state::AppState;
use vitrine_origin::with_db;

const RULES: &str = include_str!("../alerts/vitrine.rules.yml");
const SECRET: &str = "erp-webhook-secret-of-32-bytes-at-least";

/// Every `vitrine_…` series name the rules mention.
fn series_in_rules() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = RULES;
    while let Some(at) = rest.find("vitrine_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

async fn get(app: &axum::Router, path: &str) -> (StatusCode, String) {
    let response = app
        .clone()
        .oneshot(Request::get(path).body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let status = response.status();
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_series_the_alert_rules_read_is_exported() {
    let rules = series_in_rules();
    assert!(rules.len() >= 6, "the rules name the series they read: {rules:?}");

    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::embedded(dir.path());
    config.sync.erp_webhook_secret = Some(SECRET.into());
    let state = AppState::connect(config, true).await.expect("origin state");
    vitrine_origin::seed::run(&state, &vitrine_origin::seed::SeedArgs { products: 20, seed: 3 })
        .await
        .expect("seed");
    let sku: String = with_db!(&state.db, pool => sqlx::query_scalar("SELECT sku FROM products ORDER BY sku LIMIT 1")
        .fetch_one(pool).await)
    .expect("a product");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(vitrine_origin::server::serve(state.clone(), listener, async move {
        let _ = stopped.await;
    }));
    let app = vitrine_origin::http::router(state.clone());

    // A request (the error-rate rule reads request counts by status) and an
    // ERP change (the apply-lag and index-lag rules read its histograms).
    let (status, _) = get(&app, "/api/v1/categories").await;
    assert_eq!(status, StatusCode::OK);
    let body = serde_json::json!({
        "id": "alerts-1", "sku": sku, "version": 1, "type": "price", "price_minor": 12_345,
    })
    .to_string();
    let signature =
        vitrine_origin::sync::webhook::sign(SECRET.as_bytes(), chrono::Utc::now().timestamp(), body.as_bytes());
    let webhook = Request::post("/webhooks/erp")
        .header("content-type", "application/json")
        .header(vitrine_origin::sync::webhook::HEADER, signature)
        .body(Body::from(body))
        .expect("request");
    let response = app.clone().oneshot(webhook).await.expect("response");
    assert_eq!(response.status(), StatusCode::ACCEPTED);

    let deadline = Instant::now() + Duration::from_secs(20);
    let missing = loop {
        let (status, metrics) = get(&app, "/metrics").await;
        assert_eq!(status, StatusCode::OK);
        let missing: Vec<&String> = rules
            .iter()
            .filter(|name| {
                !metrics
                    .lines()
                    .any(|line| line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} ")))
            })
            .collect();
        // The selectors the rules use, not just the names.
        let buckets_at_5 = [
            "vitrine_sync_apply_lag_seconds_bucket",
            "vitrine_search_index_lag_seconds_bucket",
        ]
        .iter()
        .all(|name| metrics.lines().any(|l| l.starts_with(name) && l.contains("le=\"5\"")));
        let by_status = metrics
            .lines()
            .any(|l| l.starts_with("vitrine_http_requests_total{") && l.contains("status=\"200\""));
        if missing.is_empty() && buckets_at_5 && by_status {
            break Vec::new();
        }
        if Instant::now() > deadline {
            break missing
                .into_iter()
                .cloned()
                .chain((!buckets_at_5).then(|| "a le=\"5\" bucket".to_owned()))
                .chain((!by_status).then(|| "a status label".to_owned()))
                .collect();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let _ = stop.send(());
    server.await.expect("server task").expect("server");
    assert!(
        missing.is_empty(),
        "/metrics lacks what the alert rules read: {missing:?}"
    );
}
