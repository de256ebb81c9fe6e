//! The storefront page in a real browser: an origin on the embedded default
//! with a small hand-built catalog, an edge on the sample operator config
//! (`edge-config/vitrine.toml`: the first-party promotions and the `testpay`
//! payment plugin, built from source) following its change feed, and the
//! TestPay provider double; then `node tests/browser/storefront.mjs` drives
//! Debian's headless Chromium through search as you type, the cart, the
//! `WELCOME10` coupon and checkout, and checks the order at the origin.
//!
//! Needs node (20+), `tests/browser/node_modules` (`npm ci` there) and
//! Chromium (`/usr/bin/chromium`, or `CHROMIUM`); `tests/run` installs them
//! (`vitrine_install_prereqs` in `.ci/services.sh`). When one is missing the
//! test fails under `VITRINE_REQUIRE_SERVICES` or `CI`, and otherwise says
//! why it skipped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vitrine_edge_config::EdgeConfig;
use vitrine_runtime::edge::feed;
use vitrine_runtime::edge::proxy::Edge;
use vitrine_runtime::plugins::PluginHost;
use vitrine_runtime::testing::first_party_plugin;
use vitrine_tests::testpay::{self, TestPay};
use vitrine_tests::{Backend, EDGE_SECRET, Origin, services_required};

/// The product the browser adds (a hand tool: no sale applies, so the
/// exclusive welcome coupon does).
const PICK: &str = "Claw hammer 16oz";
/// A product whose name is markup: the page must show it as text.
const HOSTILE: &str = "Hammer <b>\"Pro\"</b> & <img src=x onerror=alert(1)>";

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
}

/// What the browser run needs, or what is missing.
fn browser_prerequisites() -> Result<(PathBuf, PathBuf), Vec<String>> {
    let mut missing = Vec::new();
    let node = match std::process::Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {
            let version = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            let major: u32 = version
                .trim_start_matches('v')
                .split('.')
                .next()
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if major < 20 {
                missing.push(format!("node 20 or later (found {version})"));
            }
            PathBuf::from("node")
        }
        _ => {
            missing.push("node (Node.js 20 or later) on PATH".to_owned());
            PathBuf::from("node")
        }
    };
    let browser_dir = workspace().join("tests/browser");
    if !browser_dir.join("node_modules/playwright-core/package.json").is_file() {
        missing.push(format!(
            "the npm dependencies in {} (run `npm ci --no-audit --no-fund` there)",
            browser_dir.display()
        ));
    }
    let chromium = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    if !chromium.is_file() {
        missing.push(format!(
            "Chromium at {} (`apt-get install -y chromium`, or set CHROMIUM)",
            chromium.display()
        ));
    }
    if missing.is_empty() {
        Ok((node, chromium))
    } else {
        Err(missing)
    }
}

/// Adds the catalog and puts it in the search index (what `vitrine-origin
/// reindex` does; the running server swaps the new generation in).
async fn stock_the_shop(origin: &Origin) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while origin.state.search.live().is_none() {
        assert!(
            Instant::now() < deadline,
            "the origin's first search index was never built"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    origin.product(&["tools", "hand-tools"], PICK, 24_900, 10).await;
    origin.product(&["tools", "hand-tools"], HOSTILE, 19_900, 5).await;
    origin
        .product(&["tools", "hand-tools"], "Spirit level 600mm", 17_500, 8)
        .await;
    origin
        .product(
            &["tools", "power-tools", "drills"],
            "Cordless hammer drill 18V",
            129_900,
            3,
        )
        .await;
    origin
        .product(&["paint", "interior-paint"], "Interior paint 5L white", 38_990, 20)
        .await;
    let report = vitrine_origin::search::indexer::rebuild(&origin.state.db, origin.state.search.root())
        .await
        .expect("building the search index");
    assert_eq!(report.products, 5);
    while origin.state.search.generation().as_deref() != Some(report.generation.as_str()) {
        assert!(Instant::now() < deadline, "the new search index was never swapped in");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct RunningEdge {
    base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RunningEdge {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The edge on the sample config, pointed at `origin` and `provider`.
async fn sample_edge(origin: &Origin, provider: &TestPay) -> RunningEdge {
    let mut plugin_dir = PathBuf::new();
    for name in [
        "category-sale",
        "buy-x-get-y",
        "free-shipping",
        "coupon",
        "testpay",
        "personalization",
    ] {
        let built = tokio::task::block_in_place(|| first_party_plugin(name)).unwrap_or_else(|e| panic!("{e}"));
        plugin_dir = built.parent().expect("a plugin folder").to_owned();
    }
    let path = workspace().join("edge-config/vitrine.toml");
    let text = std::fs::read_to_string(&path).expect("edge-config/vitrine.toml");
    let env = |name: &str| match name {
        "VITRINE_PLUGIN_DIR" => Some(plugin_dir.to_str().expect("utf-8 path").to_owned()),
        "VITRINE_ORIGIN_URL" => Some(origin.base.clone()),
        "VITRINE_EDGE_SECRET" => Some(EDGE_SECRET.to_owned()),
        "VITRINE_EDGE_LISTEN" => Some("127.0.0.1:0".to_owned()),
        "TESTPAY_URL" => Some(provider.base_url().to_owned()),
        "TESTPAY_HOST" => Some(provider.host()),
        "TESTPAY_API_KEY" => Some(testpay::API_KEY.to_owned()),
        "TESTPAY_WEBHOOK_SECRET" => Some(testpay::WEBHOOK_SECRET.to_owned()),
        _ => None,
    };
    let mut config = EdgeConfig::parse(&path, &text, &env).unwrap_or_else(|e| panic!("{e}"));
    assert!(config.edge.storefront, "the sample config serves the storefront");
    // Correctness, not speed: a debug build on a loaded 2-core machine can
    // stall a call past the sample's 10 ms coupon deadline.
    for plugin in &mut config.plugins {
        plugin.limits.deadline = plugin.limits.deadline.max(Duration::from_secs(10));
    }
    let host = tokio::task::block_in_place(|| PluginHost::from_config(&config)).unwrap_or_else(|e| panic!("{e}"));
    let feed_config = config.edge.change_feed.clone();
    let edge = Arc::new(Edge::new(Arc::new(config)).with_plugins(Arc::new(host)));
    let status = feed::spawn(&edge, &feed_config).expect("the sample config follows the origin's feed");
    let (base, task) = vitrine_tests::serve_edge(edge, Some(status)).await;
    RunningEdge { base, task }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopper_searches_fills_a_cart_applies_a_coupon_and_checks_out_in_chromium() {
    let (node, chromium) = match browser_prerequisites() {
        Ok(found) => found,
        Err(missing) => {
            let what = missing.join("; ");
            assert!(
                !services_required(),
                "the storefront browser test needs: {what} (`source .ci/services.sh && vitrine_install_prereqs` installs them)"
            );
            eprintln!("SKIPPED: the storefront browser test needs: {what}");
            return;
        }
    };
    let origin = Origin::start(Backend::Embedded)
        .await
        .expect("the embedded default needs nothing");
    stock_the_shop(&origin).await;
    let provider = TestPay::start().await.expect("the TestPay double");
    let edge = sample_edge(&origin, &provider).await;

    // The page is the edge's own.
    let http = reqwest::Client::new();
    let page = http.get(format!("{}/", edge.base)).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");

    let script = workspace().join("tests/browser/storefront.mjs");
    let mut run = tokio::process::Command::new(&node);
    run.arg(&script)
        .arg(&edge.base)
        .arg(&origin.base)
        .current_dir(workspace().join("tests/browser"))
        .env("CHROMIUM", &chromium)
        .env("STOREFRONT_QUERY", "hammer")
        .env("STOREFRONT_PICK", PICK)
        .env("STOREFRONT_HOSTILE", HOSTILE)
        .env("STOREFRONT_COUPON", "WELCOME10")
        .env("STOREFRONT_TIMEOUT_MS", "150000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = run
        .spawn()
        .unwrap_or_else(|e| panic!("starting {} {}: {e}", node.display(), script.display()));
    let out = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
        .await
        .expect("the browser run finished within 180 s")
        .expect("the browser run's output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(
        out.status.success(),
        "the storefront browser run failed ({}):\n{stdout}{stderr}",
        out.status
    );
    assert!(stdout.contains("storefront: ok"), "{stdout}");
    // One charge: one authorization at the provider for the one order.
    assert_eq!(provider.counters().authorizations, 1, "{:?}", provider.counters());
    assert_eq!(origin.count("orders").await, 1);
    drop(edge);
    origin.stop().await;
}
