//! The cart a promotion receives, built from lines as a shop knows them.
//!
//! The WIT cart lists each category and brand once and has lines point to
//! them by index, and refers to lines by their index (see `cart-line` in
//! `sdk/wit/plugin.wit`): lowering a string or a list into a component costs
//! a call into the guest's allocator each, so a 10-line cart with names
//! repeated on every line would spend most of a promotion call copying
//! them. [`CartBuilder`] does the bookkeeping.
//!
//! ```
//! use vitrine_runtime::plugins::cart::CartBuilder;
//!
//! let mut cart = CartBuilder::new("ZAR");
//! let drill = cart.line("p-1", "DRILL-1", 2, 129_900, &["tools", "power-tools"], "acme");
//! cart.line("p-2", "SAW-1", 1, 89_900, &["tools", "hand-tools"], "acme");
//! cart.attribute(drill, "voltage", "18V");
//! let cart = cart.build();
//! assert_eq!(cart.categories.len(), 3); // tools, power-tools, hand-tools
//! assert_eq!(cart.brands, ["acme"]);
//! assert_eq!(cart.lines[0].category, Some(1));
//! assert_eq!(cart.categories[1].parent, Some(0));
//! ```

use super::types::{Cart, CartLine, Category, Customer, LineAttribute};

/// Builds a [`Cart`]; see the module docs.
#[derive(Debug, Clone)]
pub struct CartBuilder {
    cart: Cart,
}

fn index(i: usize) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

impl CartBuilder {
    /// An empty cart in `currency`: an anonymous shopper, no coupons, free shipping.
    pub fn new(currency: impl Into<String>) -> Self {
        Self {
            cart: Cart {
                currency: currency.into(),
                lines: Vec::new(),
                categories: Vec::new(),
                brands: Vec::new(),
                attributes: Vec::new(),
                coupon_codes: Vec::new(),
                customer: Customer {
                    id: None,
                    segments: Vec::new(),
                    coupon_uses: Vec::new(),
                },
                shipping_minor: 0,
            },
        }
    }

    /// Adds a line of `quantity` × `unit_price_minor` in the categories
    /// `path` (root first; empty for none) of `brand`; returns its index.
    pub fn line(
        &mut self,
        product_id: impl Into<String>,
        sku: impl Into<String>,
        quantity: u32,
        unit_price_minor: i64,
        path: &[impl AsRef<str>],
        brand: &str,
    ) -> u32 {
        let categories = &mut self.cart.categories;
        let mut category = None;
        for slug in path {
            let slug = slug.as_ref();
            let at = match categories.iter().position(|c| c.slug == slug) {
                Some(at) => at,
                None => {
                    categories.push(Category {
                        slug: slug.to_owned(),
                        parent: category,
                    });
                    categories.len() - 1
                }
            };
            category = Some(index(at));
        }
        let brands = &mut self.cart.brands;
        let brand = match brands.iter().position(|b| b == brand) {
            Some(at) => at,
            None => {
                brands.push(brand.to_owned());
                brands.len() - 1
            }
        };
        self.cart.lines.push(CartLine {
            product_id: product_id.into(),
            sku: sku.into(),
            quantity,
            unit_price_minor,
            category,
            brand: index(brand),
        });
        index(self.cart.lines.len() - 1)
    }

    /// Gives line `line` the attribute `name` = `value`.
    pub fn attribute(&mut self, line: u32, name: impl Into<String>, value: impl Into<String>) {
        self.cart.attributes.push(LineAttribute {
            line,
            name: name.into(),
            value: value.into(),
        });
    }

    /// The coupon codes the shopper entered (upper-cased here).
    pub fn coupons<S: AsRef<str>>(&mut self, codes: impl IntoIterator<Item = S>) -> &mut Self {
        self.cart.coupon_codes = codes.into_iter().map(|c| c.as_ref().to_uppercase()).collect();
        self
    }

    /// The shopper.
    pub fn customer(&mut self, customer: Customer) -> &mut Self {
        self.cart.customer = customer;
        self
    }

    /// The shipping fee before promotions.
    pub fn shipping(&mut self, shipping_minor: i64) -> &mut Self {
        self.cart.shipping_minor = shipping_minor;
        self
    }

    /// The cart.
    pub fn build(self) -> Cart {
        self.cart
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_category_and_brand_is_listed_once_and_lines_point_to_them() {
        let mut b = CartBuilder::new("ZAR");
        let lines = [
            b.line("p1", "A", 1, 100, &["garden", "hoses"], "flo"),
            b.line("p2", "B", 1, 100, &["garden"], "flo"),
            b.line("p3", "C", 1, 100, &[] as &[&str], ""),
        ];
        let cart = b.build();
        assert_eq!(lines, [0, 1, 2]);
        let slugs: Vec<_> = cart.categories.iter().map(|c| (c.slug.as_str(), c.parent)).collect();
        assert_eq!(slugs, [("garden", None), ("hoses", Some(0))]);
        assert_eq!(cart.brands, ["flo", ""]);
        let points: Vec<_> = cart.lines.iter().map(|l| (l.category, l.brand)).collect();
        assert_eq!(points, [(Some(1), 0), (Some(0), 0), (None, 1)]);
    }
}
