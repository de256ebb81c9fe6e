//! The built component, run in the real plugin host (no server needed).
//! The first run compiles the plugin for wasm32-wasip2 and the host: slow once.

use vitrine_runtime::plugins::types::Level;
use vitrine_runtime::testing::TestPlugin;

#[test]
fn ten_percent_off_the_fixture_cart() -> anyhow::Result<()> {
    let plugin = TestPlugin::builder(env!("CARGO_MANIFEST_DIR")).build()?;
    let run = plugin.run_fixture("fixtures/cart.json")?;
    let output = run.output?;
    let adjustments = output.adjustments().unwrap_or_default();
    let off: Vec<_> = adjustments.iter().map(|a| (a.level, output.line_id(a), a.amount_minor)).collect();
    assert_eq!(off, [(Level::Line, Some("l1"), 12_990), (Level::Line, Some("l2"), 99)]);
    println!("fuel used: {}, time: {:?}", run.fuel_used, run.time);
    Ok(())
}
