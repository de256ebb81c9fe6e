//! The first-party plugins as the host runs them: components built from
//! source (`vitrine_runtime::testing::first_party_plugin`), given their settings through the `config`
//! capability, pricing a cart whose discounts were worked out by hand.

#![allow(missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use vitrine_runtime::plugins::cart::CartBuilder;
use vitrine_runtime::plugins::types::{Adjustment, Cart, Customer, Level, Money, ProductSummary, ShopperContext};
use vitrine_runtime::plugins::{ConfigGrant, EngineConfig, Grants, Limits, PluginHost, PluginSpec, World};
use vitrine_runtime::testing::first_party_plugin;

fn spec(name: &str, world: World, settings: &[(&str, &str)]) -> PluginSpec {
    let grants = Grants {
        config: ConfigGrant {
            values: settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            secrets: BTreeMap::new(),
        },
        ..Grants::default()
    };
    // Correctness, not speed: a loaded CI machine can stall a call past the default 50 ms.
    let limits = Limits {
        deadline: Duration::from_secs(10),
        ..Limits::default()
    };
    PluginSpec::from_path(name, world, first_party_plugin(name).unwrap_or_else(|e| panic!("{e}")))
        .with_grants(grants)
        .with_limits(limits)
}

fn host() -> PluginHost {
    let host = PluginHost::new(EngineConfig::default(), None).expect("host");
    for spec in [
        spec(
            "category-sale",
            World::Promotion,
            &[
                ("category", "power-tools"),
                ("percent", "15"),
                ("reason", "Power tools 15% off"),
            ],
        ),
        spec(
            "buy-x-get-y",
            World::Promotion,
            &[("sku", "SCR-8"), ("buy", "2"), ("get", "1")],
        ),
        spec("free-shipping", World::Promotion, &[("threshold_minor", "100000")]),
        spec(
            "coupon",
            World::Promotion,
            &[("code", "WELCOME10"), ("percent", "10"), ("max_uses_per_customer", "1")],
        ),
        spec(
            "personalization",
            World::Personalization,
            &[("segment_categories", "trade=power-tools")],
        ),
    ] {
        host.install(host.load(spec).expect("first-party plugin loads"));
    }
    host
}

/// A drill (1 × R1,299.00), screws (3 × R45.00) and paint (2 × R389.90),
/// R99.00 shipping, coupon WELCOME10: line subtotal R2,213.80. Lines 0, 1, 2.
fn cart(coupon_uses: u32) -> Cart {
    let mut cart = CartBuilder::new("ZAR");
    cart.line("p-l1", "DRL-1", 1, 129_900, &["tools", "power-tools"], "Bosch");
    cart.line("p-l2", "SCR-8", 3, 4_500, &["hardware", "fasteners"], "Acme");
    cart.line("p-l3", "PNT-5L", 2, 38_990, &["paint"], "Dulux");
    cart.coupons(["WELCOME10"])
        .customer(Customer {
            id: Some("c-1".into()),
            segments: vec![],
            coupon_uses: if coupon_uses > 0 {
                vec![("WELCOME10".into(), coupon_uses)]
            } else {
                vec![]
            },
        })
        .shipping(9_900);
    cart.build()
}

fn adjustments(host: &PluginHost, plugin: &str, cart: &Cart) -> Vec<Adjustment> {
    host.call_promotion(plugin, cart)
        .unwrap_or_else(|e| panic!("{plugin}: {e}"))
}

#[test]
fn first_party_promotions_price_a_cart_as_worked_out_by_hand() {
    let host = host();
    let cart = cart(0);

    // 15% of R1,299.00 = R194.85 off the drill.
    let sale = adjustments(&host, "category-sale", &cart);
    assert_eq!(sale.len(), 1);
    assert_eq!(
        (sale[0].level, sale[0].line, sale[0].amount_minor),
        (Level::Line, Some(0), 19_485)
    );
    assert_eq!(sale[0].reason, "Power tools 15% off");

    // Buy 2 get 1 on three screws: one screw (R45.00) free.
    let bxgy = adjustments(&host, "buy-x-get-y", &cart);
    assert_eq!(bxgy.len(), 1);
    assert_eq!((bxgy[0].line, bxgy[0].amount_minor), (Some(1), 4_500));

    // R2,213.80 ≥ R1,000.00: the R99.00 shipping comes off.
    let shipping = adjustments(&host, "free-shipping", &cart);
    assert_eq!(shipping.len(), 1);
    assert_eq!((shipping[0].level, shipping[0].amount_minor), (Level::Shipping, 9_900));

    // 10% of the line subtotal R2,213.80 = R221.38, consuming the coupon.
    let coupon = adjustments(&host, "coupon", &cart);
    assert_eq!(coupon.len(), 1);
    assert_eq!((coupon[0].level, coupon[0].amount_minor), (Level::Order, 22_138));
    assert_eq!(coupon[0].coupon.as_deref(), Some("WELCOME10"));

    // Together: 221,380 + 9,900 − 19,485 − 4,500 − 9,900 − 22,138 = 175,257.
    let outcome = host.apply_promotions(&cart);
    assert!(outcome.skipped.is_empty(), "{:?}", outcome.skipped);
    assert!(outcome.excluded.is_empty(), "{:?}", outcome.excluded);
    assert!(outcome.applied.iter().all(|p| !p.trimmed), "{:?}", outcome.applied);
    let discounts: i64 = outcome.adjustments().map(|(_, a)| a.amount_minor).sum();
    let subtotal: i64 = cart
        .lines
        .iter()
        .map(|l| l.unit_price_minor * i64::from(l.quantity))
        .sum();
    assert_eq!(subtotal + cart.shipping_minor - discounts, 175_257);
    assert_eq!(outcome.totals.subtotal_minor, 221_380);
    assert_eq!(outcome.totals.total_minor, 175_257);
}

#[test]
fn a_used_up_coupon_gives_nothing() {
    let host = host();
    assert!(adjustments(&host, "coupon", &cart(1)).is_empty());
}

#[test]
fn personalization_moves_the_shoppers_segment_up_and_badges_promotions() {
    let host = host();
    let product = |id: &str, category: &str| ProductSummary {
        id: id.into(),
        sku: format!("SKU-{id}"),
        name: format!("Product {id}"),
        brand: "Acme".into(),
        category: category.into(),
        price: Money {
            amount_minor: 10_000,
            currency: "ZAR".into(),
        },
        in_stock: true,
        badges: vec![],
    };
    let page = vec![
        product("1", "paint"),
        product("2", "power-tools"),
        product("3", "garden"),
    ];
    let context = ShopperContext {
        segments: vec!["trade".into()],
        locale: Some("en-ZA".into()),
        recently_viewed: vec![],
        recent_categories: vec!["garden".into()],
        on_promotion: vec!["1".into()],
    };
    let out = host
        .call_personalization("personalization", &page, &context)
        .expect("personalized");
    let ids: Vec<&str> = out.iter().map(|p| p.id.as_str()).collect();
    // power-tools (trade segment, 4) before garden (most recent category, 3) before paint.
    assert_eq!(ids, ["2", "3", "1"]);
    assert_eq!(out[2].badges, ["On promotion"]);
}
