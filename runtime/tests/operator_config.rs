//! The operator's config as the host applies it: the sample config prices
//! carts by its stacking order; grants reach exactly the plugins they name;
//! reloads from the file swap whole sets, keep unchanged plugins, and leave
//! the running set alone when the new config is wrong.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use vitrine_edge_config::EdgeConfig;
use vitrine_runtime::plugins::cart::CartBuilder;
use vitrine_runtime::plugins::reload::ConfigWatcher;
use vitrine_runtime::plugins::types::{Cart, Customer, Level};
use vitrine_runtime::plugins::{EngineConfig, Exclusion, FailureKind, PluginError, PluginHost, Stacking, World};
use vitrine_runtime::testing::first_party_plugin;

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ has a parent")
}

/// The folder the first-party components are built into, built from source.
fn first_party_dir() -> PathBuf {
    for name in [
        "category-sale",
        "buy-x-get-y",
        "free-shipping",
        "coupon",
        "testpay",
        "personalization",
    ] {
        first_party_plugin(name).unwrap_or_else(|e| panic!("{e}"));
    }
    first_party_plugin("coupon")
        .expect("built above")
        .parent()
        .expect("a folder")
        .to_owned()
}

/// The sample config, its components taken from a fresh build.
fn sample_config() -> EdgeConfig {
    let dir = first_party_dir().to_str().expect("utf-8").to_owned();
    let env = move |name: &str| (name == "VITRINE_PLUGIN_DIR").then(|| dir.clone());
    let path = workspace().join("edge-config/vitrine.toml");
    let text = std::fs::read_to_string(&path).expect("edge-config/vitrine.toml");
    let mut config = EdgeConfig::parse(&path, &text, &env).unwrap_or_else(|e| panic!("{e}"));
    // Correctness, not speed: a debug build on a loaded 2-core CI machine
    // can stall a call past the sample's 10–20 ms deadlines.
    for plugin in &mut config.plugins {
        plugin.limits.deadline = Duration::from_secs(10);
    }
    config
}

/// A line: its id (for the product and sku), units, unit price, categories.
type Line<'a> = (&'a str, u32, i64, &'a [&'a str]);

fn line<'a>(id: &'a str, quantity: u32, unit_price_minor: i64, categories: &'a [&'a str]) -> Line<'a> {
    (id, quantity, unit_price_minor, categories)
}

fn cart(lines: Vec<Line<'_>>) -> Cart {
    let mut cart = CartBuilder::new("ZAR");
    for (id, quantity, unit, categories) in lines {
        cart.line(
            format!("p-{id}"),
            format!("SKU-{id}"),
            quantity,
            unit,
            categories,
            "Acme",
        );
    }
    cart.coupons(["WELCOME10"])
        .customer(Customer {
            id: Some("c-1".into()),
            segments: vec![],
            coupon_uses: vec![],
        })
        .shipping(9_900);
    cart.build()
}

#[test]
fn the_sample_config_prices_carts_in_its_stacking_order() {
    let host = PluginHost::from_config(&sample_config()).unwrap_or_else(|e| panic!("{e}"));
    let set = host.plugins();
    let promotions: Vec<(&str, Stacking)> = set
        .iter()
        .filter(|p| p.world() == World::Promotion)
        .map(|p| (p.name(), p.stacking()))
        .collect();
    assert_eq!(
        promotions,
        [
            ("power-tools-sale", Stacking::Combinable),
            ("paint-multibuy", Stacking::Combinable),
            ("free-shipping", Stacking::Combinable),
            ("welcome-coupon", Stacking::Exclusive),
        ]
    );

    // A drill (1 × R1,299.00) and interior paint (3 × R389.90), R99.00
    // shipping, WELCOME10 entered. Subtotal R2,468.70.
    let outcome = host.apply_promotions(&cart(vec![
        line("drill", 1, 129_900, &["tools", "power-tools", "drills"]),
        line("paint", 3, 38_990, &["paint", "interior-paint"]),
    ]));
    assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
    let applied: Vec<(&str, Level, i64)> = outcome
        .adjustments()
        .map(|(plugin, a)| (plugin, a.level, a.amount_minor))
        .collect();
    assert_eq!(
        applied,
        [
            // 15 % of R1,299.00.
            ("power-tools-sale", Level::Line, 19_485),
            // 3 for 2: one tin free.
            ("paint-multibuy", Level::Line, 38_990),
            // R2,468.70 ≥ R1,000.00.
            ("free-shipping", Level::Shipping, 9_900),
        ]
    );
    // The coupon is exclusive, and others applied first: it does not count.
    assert_eq!(outcome.excluded.len(), 1);
    assert_eq!(outcome.excluded[0].plugin, "welcome-coupon");
    assert_eq!(
        outcome.excluded[0].reason,
        Exclusion::NotAlone {
            first: "power-tools-sale".into()
        }
    );
    // 246,870 − 19,485 − 38,990 + 9,900 − 9,900.
    assert_eq!(outcome.totals.total_minor, 188_395);

    // A hammer only (R250.00): no sale, no multibuy, under the free
    // shipping threshold; the coupon applies alone, 10 % off.
    let outcome = host.apply_promotions(&cart(vec![line(
        "hammer",
        1,
        25_000,
        &["tools", "hand-tools", "hammers"],
    )]));
    assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
    assert_eq!(outcome.applied.len(), 1);
    assert_eq!(outcome.applied[0].plugin, "welcome-coupon");
    assert_eq!(outcome.applied[0].adjustments[0].amount_minor, 2_500);
    assert_eq!(outcome.applied[0].adjustments[0].coupon.as_deref(), Some("WELCOME10"));
    assert_eq!(outcome.totals.total_minor, 25_000 - 2_500 + 9_900);
}

#[test]
fn grants_reach_only_the_plugin_they_name() {
    let mut config = sample_config();
    // The sale loses its `config` grant (and so its settings): it can no
    // longer tell which category is on sale, and says so.
    let sale = config
        .plugins
        .iter_mut()
        .find(|p| p.name == "power-tools-sale")
        .expect("sale");
    sale.grants.clear();
    sale.config.clear();
    let host = PluginHost::from_config(&config).unwrap_or_else(|e| panic!("{e}"));
    let cart = cart(vec![line("drill", 1, 129_900, &["tools", "power-tools"])]);
    match host.call_promotion("power-tools-sale", &cart) {
        Err(PluginError::Guest { error, .. }) => assert!(error.to_string().contains("configuration"), "{error}"),
        other => panic!("expected a config error from the plugin, got {other:?}"),
    }
    // The others keep theirs.
    let shipping = host.call_promotion("free-shipping", &cart).expect("free shipping");
    assert_eq!(shipping.len(), 1);
}

/// A config file in a temp dir: two installs of the test guest `good`
/// (`percent` off every line), a component copied there so a test can
/// replace it in place.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("good.wasm"), common::guest("good")).expect("component");
        std::fs::write(
            dir.path().join("good.toml"),
            "manifest_version = 1\nname = \"good\"\nversion = \"0.1.0\"\nworld = \"promotion\"\n\
             description = \"percent off every line\"\ncapabilities = [\"config\"]\n\n[limits]\n\
             fuel = 10000000\nmemory_mb = 16\ndeadline_ms = 10000\nmax_input_bytes = 262144\nmax_output_bytes = 262144\n",
        )
        .expect("manifest");
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("vitrine.toml")
    }

    /// Writes the config with `percent` for both installs, and `extra` appended.
    fn write(&self, percent: u32, extra: &str) {
        let mut text = String::from("version = 1\n\n[plugin_host]\nreload_interval_ms = 50\n");
        for name in ["sale-a", "sale-b"] {
            text.push_str(&format!(
                "\n[plugins.{name}]\ncomponent = \"good.wasm\"\nmanifest = \"good.toml\"\ngrants = [\"config\"]\n\
                 config = {{ percent = \"{percent}\" }}\n\n[[promotions]]\nplugin = \"{name}\"\n"
            ));
        }
        text.push_str(extra);
        self.replace(&text);
    }

    fn read(&self) -> String {
        std::fs::read_to_string(self.path()).expect("config")
    }

    /// Writes then renames, as deployment tools do: the watcher never
    /// reads half a file.
    fn replace(&self, text: &str) {
        let tmp = self.dir.path().join("vitrine.toml.tmp");
        std::fs::write(&tmp, text).expect("config");
        std::fs::rename(&tmp, self.path()).expect("config");
    }
}

fn percent_of(host: &PluginHost, cart: &Cart) -> Vec<Vec<i64>> {
    let outcome = host.apply_promotions(cart);
    assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
    outcome
        .applied
        .iter()
        .map(|p| p.adjustments.iter().map(|a| a.amount_minor).collect())
        .collect()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_reload_from_the_file_swaps_changes_keeps_the_rest_and_refuses_bad_configs() {
    let scratch = Scratch::new();
    scratch.write(10, "");
    let host = Arc::new(PluginHost::new(EngineConfig::default(), None).expect("host"));
    let watcher = ConfigWatcher::start(Arc::clone(&host), scratch.path(), Duration::from_millis(50))
        .unwrap_or_else(|e| panic!("{e}"));
    let cart = common::cart(4);
    let ten = common::expected_discounts(&cart, 10);
    let twenty = common::expected_discounts(&cart, 20);
    assert_eq!(percent_of(&host, &cart), [ten.clone(), ten.clone()]);

    // A bad config: refused with its place, and the running set stays.
    scratch.write(20, "\n[plugins.sale-a.limits]\nfule = 5\n");
    wait_for("the bad config to be refused", || watcher.status().failed == 1);
    let error = watcher.status().last_error.expect("an error");
    assert_eq!(error.field, "plugins.sale-a.limits.fule");
    assert!(error.location.line > 0, "{error}");
    assert_eq!(percent_of(&host, &cart), [ten.clone(), ten.clone()]);

    // Fixed: applied within the interval; both installs changed together.
    scratch.write(20, "");
    wait_for("the fixed config to apply", || watcher.status().applied == 2);
    assert_eq!(percent_of(&host, &cart), [twenty.clone(), twenty.clone()]);
    assert!(watcher.status().last_error.is_none());

    // Only sale-b changes: sale-a is kept as it was (same instance, same
    // counters), sale-b loaded anew.
    let sale_a = Arc::clone(host.plugins().get("sale-a").expect("sale-a"));
    let text = scratch.read().replacen(
        "config = { percent = \"20\" }\n\n[[promotions]]\nplugin = \"sale-b\"",
        "config = { percent = \"10\" }\n\n[[promotions]]\nplugin = \"sale-b\"",
        1,
    );
    scratch.replace(&text);
    wait_for("the sale-b change to apply", || watcher.status().applied == 3);
    let report = watcher.status().last_report.expect("a report");
    assert_eq!(report.kept, ["sale-a"]);
    assert_eq!(report.loaded, ["sale-b"]);
    assert_eq!(percent_of(&host, &cart), [twenty.clone(), ten.clone()]);
    assert!(
        Arc::ptr_eq(&sale_a, host.plugins().get("sale-a").expect("sale-a")),
        "sale-a kept"
    );
    let calls_before = host.counters("sale-a").expect("sale-a").calls;
    let report = watcher.reload_now().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(report.kept, ["sale-a", "sale-b"]);
    assert_eq!(
        host.counters("sale-a").expect("sale-a").calls,
        calls_before,
        "kept, counters and all"
    );

    // A component replaced in place (same path, new bytes) is picked up.
    let component = scratch.dir.path().join("good.wasm");
    std::fs::write(component.with_extension("tmp"), common::guest("trap")).expect("component");
    std::fs::rename(component.with_extension("tmp"), &component).expect("component");
    wait_for("the replaced component to load", || {
        host.call_promotion("sale-a", &cart)
            .is_err_and(|e| e.kind() == FailureKind::Trap)
    });

    // Removing a plugin from the config uninstalls it.
    let text = scratch.read();
    let cut = text.find("\n[plugins.sale-b]").expect("sale-b");
    let applied = watcher.status().applied;
    scratch.replace(&text[..cut]);
    wait_for("sale-b to go", || watcher.status().applied > applied);
    assert_eq!(watcher.status().last_report.expect("a report").removed, ["sale-b"]);
    assert!(matches!(
        host.call_promotion("sale-b", &cart),
        Err(PluginError::NotFound(_))
    ));
}

#[test]
fn reloads_from_the_file_under_concurrent_calls_lose_and_mix_nothing() {
    let scratch = Scratch::new();
    scratch.write(10, "");
    let host = Arc::new(PluginHost::new(EngineConfig::default(), None).expect("host"));
    let watcher = ConfigWatcher::start(Arc::clone(&host), scratch.path(), Duration::from_millis(50))
        .unwrap_or_else(|e| panic!("{e}"));
    let cart = Arc::new(common::cart(5));
    let ten = common::expected_discounts(&cart, 10);
    let twenty = common::expected_discounts(&cart, 20);
    let stop = Arc::new(AtomicBool::new(false));
    let seen = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let callers: Vec<_> = (0..3)
        .map(|_| {
            let (host, cart, stop, seen) = (Arc::clone(&host), Arc::clone(&cart), Arc::clone(&stop), seen.clone());
            let (ten, twenty) = (ten.clone(), twenty.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let answers = percent_of(&host, &cart);
                    assert_eq!(answers.len(), 2, "a whole set, never half");
                    assert_eq!(answers[0], answers[1], "one call saw two versions");
                    let version = usize::from(answers[0] != ten);
                    if version == 1 {
                        assert_eq!(answers[0], twenty, "an answer from neither version");
                    }
                    seen[version].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for i in 0..20 {
        scratch.write(if i % 2 == 0 { 20 } else { 10 }, "");
        watcher.reload_now().unwrap_or_else(|e| panic!("{e}"));
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.join().expect("a caller panicked");
    }
    assert!(
        seen[0].load(Ordering::Relaxed) > 0 && seen[1].load(Ordering::Relaxed) > 0,
        "both versions served"
    );
    assert_eq!(watcher.status().failed, 0);
}

#[test]
fn an_invalid_config_at_start_is_an_error_naming_its_place() {
    let scratch = Scratch::new();
    scratch.write(10, "\n[[promotions]]\nplugin = \"sale-c\"\n");
    let host = Arc::new(PluginHost::new(EngineConfig::default(), None).expect("host"));
    let error = ConfigWatcher::start(Arc::clone(&host), scratch.path(), Duration::from_millis(50))
        .expect_err("sale-c is not installed");
    assert_eq!(error.field, "promotions[2].plugin");
    assert!(
        error.to_string().starts_with(&format!("{}:", scratch.path().display())),
        "{error}"
    );
    assert!(host.plugins().is_empty(), "nothing installed");
}

#[test]
fn a_component_that_does_not_load_names_its_config_field() {
    let scratch = Scratch::new();
    scratch.write(10, "");
    std::fs::write(scratch.dir.path().join("good.wasm"), b"not wasm").expect("component");
    let config = EdgeConfig::load(&scratch.path()).unwrap_or_else(|e| panic!("{e}"));
    let error = PluginHost::from_config(&config).err().expect("not a component");
    assert_eq!(error.field, "plugins.sale-a.component");
    assert!(error.message.contains("compiling"), "{error}");
}
