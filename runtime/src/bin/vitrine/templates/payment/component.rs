//! The built component, run in the real plugin host (no server needed).
//! The first run compiles the plugin for wasm32-wasip2 and the host: slow once.

use vitrine_runtime::plugins::PaymentAnswer;
use vitrine_runtime::plugins::fixture::Output;
use vitrine_runtime::plugins::types::PaymentStatus;
use vitrine_runtime::testing::TestPlugin;

#[test]
fn authorizes_the_fixture_payment() -> anyhow::Result<()> {
    let plugin = TestPlugin::builder(env!("CARGO_MANIFEST_DIR")).build()?;
    let run = plugin.run_fixture("fixtures/authorize.json")?;
    let Output::Payment(PaymentAnswer::Authorization(authorization)) = run.output? else {
        anyhow::bail!("authorize did not answer an authorization");
    };
    assert_eq!(authorization.reference, "test-k-1");
    assert_eq!(authorization.status, PaymentStatus::Authorized);
    println!("fuel used: {}, time: {:?}", run.fuel_used, run.time);
    Ok(())
}
