//! `vitrine-testpay`: the TestPay provider double (`vitrine_tests::testpay`)
//! as a process, for benchmarks that run the edge and the origin as their
//! own processes. Prints its base URL on the first line, then serves until
//! it is stopped (Ctrl-C or SIGTERM).
//!
//! ```text
//! vitrine-testpay        # → http://127.0.0.1:<port>
//! ```

use vitrine_tests::testpay::TestPay;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let provider = TestPay::start().await?;
    println!("{}", provider.base_url());
    vitrine_origin::server::shutdown_signal().await;
    let c = provider.counters();
    eprintln!(
        "vitrine-testpay: {} requests, {} authorizations ({} declined), {} captures, {} voids, {} refunds, {} replays",
        c.requests, c.authorizations, c.declines, c.captures, c.voids, c.refunds, c.replays
    );
    Ok(())
}
