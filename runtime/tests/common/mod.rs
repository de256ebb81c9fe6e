//! Test support: guest components built from source, and sample inputs.
#![allow(dead_code, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use vitrine_runtime::plugins::cart::CartBuilder;
use vitrine_runtime::plugins::types::{Cart, Customer};

/// Builds every guest under `tests/guests/` (once per test process; cargo's
/// own lock serializes concurrent test binaries) and returns the directory
/// holding the `.wasm` components.
pub fn guests_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let workspace = manifest_dir.parent().expect("runtime/ has a parent");
        let target = workspace.join("target").join("guests");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
            .arg(manifest_dir.join("tests/guests/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            // Small guest stacks make fresh instances cheap.
            .env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", "-C link-arg=-zstack-size=65536")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("running cargo to build the guest components");
        assert!(
            status.success(),
            "building the guest components failed (is the wasm32-wasip2 target installed?)"
        );
        target.join("wasm32-wasip2").join("release")
    })
}

/// The component of guest `name` (`good`, `spin`, `membomb`, `trap`, `huge`, `secret`).
pub fn guest(name: &str) -> Vec<u8> {
    let path = guests_dir().join(format!("guest_{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The component of first-party plugin `name` (`plugins/<name>`), built
/// from source by [`vitrine_runtime::testing::first_party_plugin`].
pub fn first_party(name: &str) -> Vec<u8> {
    let path = vitrine_runtime::testing::first_party_plugin(name).unwrap_or_else(|e| panic!("{e}"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// A cart of `lines` lines; line `i` is `i + 1` units at 1000 + 100·i cents.
pub fn cart(lines: usize) -> Cart {
    let mut cart = CartBuilder::new("ZAR");
    for i in 0..lines {
        cart.line(
            format!("product-{i}"),
            format!("SKU-{i:05}"),
            u32::try_from(i + 1).expect("small"),
            1000 + 100 * i64::try_from(i).expect("small"),
            &["tools", "power-tools"],
            "acme",
        );
    }
    cart.customer(Customer {
        id: Some("c-1".into()),
        segments: vec!["trade".into()],
        coupon_uses: vec![],
    })
    .shipping(9900);
    cart.build()
}

/// What `percent`% off every line of `cart` is, per line.
pub fn expected_discounts(cart: &Cart, percent: i64) -> Vec<i64> {
    cart.lines
        .iter()
        .map(|l| l.unit_price_minor * i64::from(l.quantity) * percent / 100)
        .collect()
}

/// Prints median, p90, p99, p99.9 and max of `samples` (for the benches).
pub fn percentiles(label: &str, mut samples: Vec<std::time::Duration>) {
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "{label}: n={} median={:.2?} p90={:.2?} p99={:.2?} p99.9={:.2?} max={:.2?}",
        samples.len(),
        at(0.5),
        at(0.9),
        at(0.99),
        at(0.999),
        samples[samples.len() - 1]
    );
}
