//! The sample config that ships in `edge-config/` parses, and says what
//! the README says it does.

#![allow(missing_docs)]

use std::path::Path;

use vitrine_edge_config::{Capability, EdgeConfig, Stacking, World};

#[test]
fn the_sample_config_installs_the_first_party_plugins() {
    // The components are build output; stand-ins are enough for the config.
    let built = tempfile::tempdir().expect("tempdir");
    for name in [
        "category-sale",
        "buy-x-get-y",
        "free-shipping",
        "coupon",
        "testpay",
        "personalization",
    ] {
        std::fs::write(built.path().join(format!("{name}.wasm")), b"\0asm").expect("stand-in");
    }
    let dir = built.path().to_str().expect("utf-8 path").to_owned();
    let env = move |name: &str| match name {
        "VITRINE_PLUGIN_DIR" => Some(dir.clone()),
        "TESTPAY_API_KEY" => Some("key-from-env".into()),
        _ => None,
    };
    let path = Path::new("vitrine.toml");
    let text = std::fs::read_to_string(path).expect("edge-config/vitrine.toml");
    let config = EdgeConfig::parse(path, &text, &env).unwrap_or_else(|e| panic!("{e}"));

    let order: Vec<(&str, Stacking)> = config
        .promotions
        .iter()
        .map(|p| (p.plugin.as_str(), p.stacking))
        .collect();
    assert_eq!(
        order,
        [
            ("power-tools-sale", Stacking::Combinable),
            ("paint-multibuy", Stacking::Combinable),
            ("free-shipping", Stacking::Combinable),
            ("welcome-coupon", Stacking::Exclusive),
        ]
    );
    // Carts, orders and auth pass; search is cached but rate-limited;
    // everything else is cached by the HTTP rules.
    use vitrine_edge_config::RouteMode;
    for (path, mode, limited) in [
        ("/api/v1/carts/abc/lines", RouteMode::Pass, true),
        ("/api/v1/orders", RouteMode::Pass, true),
        ("/api/v1/auth/login", RouteMode::Pass, true),
        ("/api/v1/search?q=drill", RouteMode::Cache, true),
        ("/api/v1/products/abc", RouteMode::Cache, false),
    ] {
        let route = config.route(path.split('?').next().expect("path"));
        assert_eq!((route.mode, route.rate_limited), (mode, limited), "{path}");
    }
    assert_eq!(
        config.route("/api/v1/categories/drills/products").personalize,
        ["personalization"]
    );
    assert!(
        config.route("/api/v1/categories").personalize.is_empty(),
        "the tree is not a listing"
    );
    assert_eq!(config.edge.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.edge.origin, "http://127.0.0.1:8081");
    let testpay = config.plugin("testpay").expect("testpay");
    assert_eq!(testpay.world(), World::Payment);
    assert!(testpay.grants.contains(&Capability::Http));
    assert_eq!(testpay.secrets["api_key"].expose(), "key-from-env");
    // Secrets stay out of Debug output.
    assert!(!format!("{config:?}").contains("key-from-env"));
    let personalization = config.plugin("personalization").expect("personalization");
    assert_eq!(personalization.world(), World::Personalization);
    // An install's name is the operator's; its component and settings are its own.
    assert_eq!(
        config.plugin("power-tools-sale").expect("sale").component,
        built.path().join("category-sale.wasm")
    );
    assert_eq!(
        config.plugin("power-tools-sale").expect("sale").config["category"],
        "power-tools"
    );
}
