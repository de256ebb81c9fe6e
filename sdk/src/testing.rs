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

/// A cart line as a test writes it: its categories by name from the root
/// down, its brand and attributes by name. [`cart`] turns lines into the
/// [`Cart`] a plugin receives (each category and brand listed once).
#[cfg(feature = "promotion")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Defaults to `p-<sku>`.
    pub product_id: String,
    /// The sku.
    pub sku: String,
    /// Units.
    pub quantity: u32,
    /// Price of one unit.
    pub unit_price_minor: i64,
    /// Category slugs, root first; empty for none.
    pub categories: Vec<String>,
    /// The brand ("" for none).
    pub brand: String,
    /// Attributes, as name and value.
    pub attributes: Vec<(String, String)>,
}

#[cfg(feature = "promotion")]
impl Line {
    /// The same line in the categories `path` (root first).
    pub fn in_categories(mut self, path: &[&str]) -> Self {
        self.categories = path.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// The same line of brand `brand`.
    pub fn by(mut self, brand: &str) -> Self {
        self.brand = brand.to_owned();
        self
    }

    /// The same line with attribute `name` = `value`.
    pub fn with_attribute(mut self, name: &str, value: &str) -> Self {
        self.attributes.push((name.to_owned(), value.to_owned()));
        self
    }
}

#[cfg(feature = "promotion")]
/// A cart line with no categories, brand or attributes.
pub fn line(sku: &str, quantity: u32, unit_price_minor: i64) -> Line {
    Line {
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
/// An anonymous shopper's cart of `lines` (line `i` of the cart is
/// `lines[i]`), with no coupons and free shipping.
pub fn cart(currency: &str, lines: Vec<Line>) -> Cart {
    use crate::promotion::{Category, LineAttribute};
    fn index(i: usize) -> u32 {
        u32::try_from(i).unwrap_or(u32::MAX)
    }
    let mut categories: Vec<Category> = Vec::new();
    let mut brands: Vec<String> = Vec::new();
    let mut attributes = Vec::new();
    let mut cart_lines = Vec::with_capacity(lines.len());
    for (i, line) in lines.into_iter().enumerate() {
        let mut category = None;
        for slug in line.categories {
            let at = match categories.iter().position(|c| c.slug == slug) {
                Some(at) => at,
                None => {
                    categories.push(Category { slug, parent: category });
                    categories.len() - 1
                }
            };
            category = Some(index(at));
        }
        let brand = match brands.iter().position(|b| *b == line.brand) {
            Some(at) => at,
            None => {
                brands.push(line.brand);
                brands.len() - 1
            }
        };
        for (name, value) in line.attributes {
            attributes.push(LineAttribute {
                line: index(i),
                name,
                value,
            });
        }
        cart_lines.push(CartLine {
            product_id: line.product_id,
            sku: line.sku,
            quantity: line.quantity,
            unit_price_minor: line.unit_price_minor,
            category,
            brand: index(brand),
        });
    }
    Cart {
        currency: currency.to_owned(),
        lines: cart_lines,
        categories,
        brands,
        attributes,
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

    use super::Line;
    use crate::promotion::Cart;

    /// Category slugs generated carts use.
    pub const CATEGORIES: [&str; 3] = ["shoes", "hats", "socks"];
    /// Brands generated carts use.
    pub const BRANDS: [&str; 2] = ["acme", "zenith"];

    /// A line with a quantity up to 50 and a unit price up to 100 000.00.
    pub fn cart_line() -> impl Strategy<Value = Line> {
        (
            0usize..5,
            0u32..50,
            0i64..10_000_000,
            proptest::sample::subsequence(CATEGORIES.to_vec(), 0..=2),
            proptest::sample::select(BRANDS.to_vec()),
        )
            .prop_map(|(sku, quantity, unit_price_minor, categories, brand)| {
                super::line(&format!("SKU-{sku}"), quantity, unit_price_minor)
                    .in_categories(&categories)
                    .by(brand)
            })
    }

    /// A cart of up to 10 lines, a shipping fee up to 1 000.00, maybe a
    /// coupon and a customer who may have used it.
    pub fn cart() -> impl Strategy<Value = Cart> {
        (
            proptest::collection::vec(cart_line(), 0..10),
            0i64..100_000,
            proptest::option::of(proptest::sample::select(vec!["SAVE10", "welcome", "OTHER"])),
            proptest::option::of("[a-z]{1,8}"),
            0u32..4,
        )
            .prop_map(|(lines, shipping_minor, coupon, id, uses)| {
                let mut cart = super::cart("ZAR", lines);
                cart.coupon_codes = coupon.map(|c| c.to_uppercase()).into_iter().collect();
                cart.customer.id = id;
                cart.customer.coupon_uses = vec![("SAVE10".to_owned(), uses)];
                cart.shipping_minor = shipping_minor;
                cart
            })
    }
}
