//! The example's *compiled* component, run in the real plugin host on the
//! fixture carts under `fixtures/` (no server): what `cargo test` in a
//! partner's plugin crate looks like with `vitrine_runtime::testing`.
#![allow(clippy::unwrap_used)] // in tests a panic is the failure report

use std::path::PathBuf;
use std::sync::OnceLock;

use vitrine_runtime::plugins::types::Level;
use vitrine_runtime::plugins::{FailureKind, Limits, World};
use vitrine_runtime::testing::{TestPlugin, TestPluginBuilder};

/// This crate's component, built once per test binary.
fn component() -> TestPluginBuilder {
    static WASM: OnceLock<PathBuf> = OnceLock::new();
    let wasm = WASM.get_or_init(|| {
        let plugin = TestPlugin::builder(env!("CARGO_MANIFEST_DIR")).build().unwrap();
        plugin.wasm_path().to_owned()
    });
    TestPlugin::from_wasm(wasm, World::Promotion).name("ten-percent")
}

/// (line, amount off) of every adjustment, all of which must be line-level.
fn line_discounts(plugin: &TestPlugin, fixture: &str) -> Vec<(String, i64)> {
    let run = plugin.run_fixture(fixture).unwrap();
    let output = run.output.unwrap();
    output
        .adjustments()
        .unwrap()
        .iter()
        .map(|a| {
            assert_eq!(a.level, Level::Line);
            (output.line_id(a).unwrap().to_owned(), a.amount_minor)
        })
        .collect()
}

#[test]
fn ten_percent_off_each_of_ten_lines() {
    let plugin = component().build().unwrap();
    // Line i is i units at 10.00 + 1.00·i; 10 % of each line total.
    let expected: Vec<_> = (1..=10i64)
        .map(|i| (format!("l{i}"), i * (1_000 + 100 * i) / 10))
        .collect();
    assert_eq!(line_discounts(&plugin, "fixtures/ten-lines.json"), expected);
    assert_eq!(expected[9], ("l10".to_owned(), 2_000));
}

#[test]
fn rounds_down_and_skips_zero_discounts() {
    let plugin = component().build().unwrap();
    // 3 × 3.33 = 9.99 → 0.99 off; 10 % of 0.09 rounds down to nothing.
    assert_eq!(
        line_discounts(&plugin, "fixtures/rounding.json"),
        [("bits".to_owned(), 99)]
    );
}

#[test]
fn the_percent_setting_reaches_the_component() {
    let plugin = component().config("percent", "25").build().unwrap();
    let discounts = line_discounts(&plugin, "fixtures/ten-lines.json");
    assert_eq!(discounts[0], ("l1".to_owned(), 275));
}

#[test]
fn a_bad_setting_is_a_config_error() {
    let plugin = component().config("percent", "lots").build().unwrap();
    let run = plugin.run_fixture("fixtures/ten-lines.json").unwrap();
    let error = run.output.unwrap_err();
    assert_eq!(error.kind(), FailureKind::Guest);
    assert!(error.to_string().contains("`percent` = \"lots\""), "{error}");
}

#[test]
fn a_ten_line_cart_is_cheap() {
    let plugin = component().build().unwrap();
    let run = plugin.run_fixture("fixtures/ten-lines.json").unwrap();
    assert!(run.output.is_ok());
    // The manifest asks for 5M; a ten-line cart should use a small fraction.
    assert!(
        run.fuel_used > 0 && run.fuel_used < 500_000,
        "fuel used: {}",
        run.fuel_used
    );
}

#[test]
fn running_out_of_fuel_is_reported_as_such() {
    let plugin = component()
        .limits(Limits {
            fuel: 1_000,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let run = plugin.run_fixture("fixtures/ten-lines.json").unwrap();
    assert_eq!(run.output.unwrap_err().kind(), FailureKind::Fuel);
    assert_eq!(run.fuel_used, 1_000);
}
