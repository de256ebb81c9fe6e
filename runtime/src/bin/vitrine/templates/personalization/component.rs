//! The built component, run in the real plugin host (no server needed).
//! The first run compiles the plugin for wasm32-wasip2 and the host: slow once.

use vitrine_runtime::testing::TestPlugin;

#[test]
fn in_stock_first_on_the_fixture_page() -> anyhow::Result<()> {
    let plugin = TestPlugin::builder(env!("CARGO_MANIFEST_DIR")).build()?;
    let run = plugin.run_fixture("fixtures/page.json")?;
    let output = run.output?;
    let ids: Vec<_> = output.page().unwrap_or_default().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p2", "p3", "p1"]);
    println!("fuel used: {}, time: {:?}", run.fuel_used, run.time);
    Ok(())
}
