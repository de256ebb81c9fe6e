//! Helpers for unit-testing plugin logic on the host with `cargo test`.
//!
//! Outside a component, [`crate::config`] reads the values set here and
//! [`crate::log`] records lines that [`logs`] returns. Both are per thread,
//! so tests running in parallel do not see each other's values.
//!
//! ```
//! use vitrine_sdk::testing;
//! testing::set_config(&[("percent", "10")]);
//! assert_eq!(vitrine_sdk::config::get("percent").as_deref(), Some("10"));
//! vitrine_sdk::log::info("hello");
//! assert_eq!(testing::logs().len(), 1);
//! ```

use crate::log::Level;
#[cfg(feature = "promotion")]
use crate::promotion::{Cart, CartLine, Customer};

#[cfg(not(target_arch = "wasm32"))]
use std::{cell::RefCell, collections::BTreeMap};

#[cfg(not(target_arch = "wasm32"))]
#[derive(Default)]
struct State {
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
    logs: Vec<(Level, String)>,
}

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Replaces this thread's settings with `pairs`.
pub fn set_config(pairs: &[(&str, &str)]) {
    #[cfg(not(target_arch = "wasm32"))]
    STATE.with_borrow_mut(|s| {
        s.config = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    });
    #[cfg(target_arch = "wasm32")]
    let _ = pairs;
}

/// Replaces this thread's secrets with `pairs`.
pub fn set_secret(pairs: &[(&str, &str)]) {
    #[cfg(not(target_arch = "wasm32"))]
    STATE.with_borrow_mut(|s| {
        s.secrets = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    });
    #[cfg(target_arch = "wasm32")]
    let _ = pairs;
}

/// The lines logged on this thread so far (and forgets them).
pub fn logs() -> Vec<(Level, String)> {
    #[cfg(not(target_arch = "wasm32"))]
    return STATE.with_borrow_mut(|s| std::mem::take(&mut s.logs));
    #[cfg(target_arch = "wasm32")]
    return Vec::new();
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn config_value(name: &str) -> Option<String> {
    STATE.with_borrow(|s| s.config.get(name).cloned())
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn secret_value(name: &str) -> Option<String> {
    STATE.with_borrow(|s| s.secrets.get(name).cloned())
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn record_log(level: Level, message: &str) {
    eprintln!("[plugin {level:?}] {message}");
    STATE.with_borrow_mut(|s| s.logs.push((level, message.to_owned())));
}

#[cfg(feature = "promotion")]
/// A cart line with no categories, brand or attributes.
pub fn line(line_id: &str, sku: &str, quantity: u32, unit_price_minor: i64) -> CartLine {
    CartLine {
        line_id: line_id.to_owned(),
        product_id: format!("p-{sku}"),
        sku: sku.to_owned(),
        quantity,
        unit_price_minor,
        categories: Vec::new(),
        brand: String::new(),
        attributes: Vec::new(),
    }
}

#[cfg(feature = "promotion")]
/// An anonymous shopper's cart with no coupons and free shipping.
pub fn cart(currency: &str, lines: Vec<CartLine>) -> Cart {
    Cart {
        currency: currency.to_owned(),
        lines,
        coupon_codes: Vec::new(),
        customer: Customer {
            id: None,
            segments: Vec::new(),
            coupon_uses: Vec::new(),
        },
        shipping_minor: 0,
    }
}

/// `proptest` strategies for carts (feature `proptest`).
///
/// Categories come from `["shoes", "hats", "socks"]`, brands from
/// `["acme", "zenith"]`, skus from `SKU-0`..`SKU-4`, so that generated carts
/// actually hit a promotion's rules.
#[cfg(all(feature = "proptest", feature = "promotion"))]
pub mod arb {
    use proptest::prelude::*;

    use crate::promotion::{Cart, CartLine, Customer};

    /// Category slugs generated carts use.
    pub const CATEGORIES: [&str; 3] = ["shoes", "hats", "socks"];
    /// Brands generated carts use.
    pub const BRANDS: [&str; 2] = ["acme", "zenith"];

    /// A line with a quantity up to 50 and a unit price up to 100 000.00.
    pub fn cart_line() -> impl Strategy<Value = CartLine> {
        (
            0usize..5,
            0u32..50,
            0i64..10_000_000,
            proptest::sample::subsequence(CATEGORIES.to_vec(), 0..=2),
            proptest::sample::select(BRANDS.to_vec()),
        )
            .prop_map(|(sku, quantity, unit_price_minor, categories, brand)| CartLine {
                line_id: String::new(),
                product_id: format!("p-{sku}"),
                sku: format!("SKU-{sku}"),
                quantity,
                unit_price_minor,
                categories: categories.into_iter().map(str::to_owned).collect(),
                brand: brand.to_owned(),
                attributes: Vec::new(),
            })
    }

    /// A cart of up to 10 lines (line ids `l0`, `l1`, …), a shipping fee up
    /// to 1 000.00, maybe a coupon and a customer who may have used it.
    pub fn cart() -> impl Strategy<Value = Cart> {
        (
            proptest::collection::vec(cart_line(), 0..10),
            0i64..100_000,
            proptest::option::of(proptest::sample::select(vec!["SAVE10", "welcome", "OTHER"])),
            proptest::option::of("[a-z]{1,8}"),
            0u32..4,
        )
            .prop_map(|(mut lines, shipping_minor, coupon, id, uses)| {
                for (i, line) in lines.iter_mut().enumerate() {
                    line.line_id = format!("l{i}");
                }
                Cart {
                    currency: "ZAR".to_owned(),
                    lines,
                    coupon_codes: coupon.map(|c| c.to_uppercase()).into_iter().collect(),
                    customer: Customer {
                        id,
                        segments: Vec::new(),
                        coupon_uses: vec![("SAVE10".to_owned(), uses)],
                    },
                    shipping_minor,
                }
            })
    }
}
