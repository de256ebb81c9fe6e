//! `{{name}}`: a Vitrine personalization. Products in stock first (the
//! page's order otherwise kept), and a "for you" badge on products of the
//! categories the shopper viewed recently.
//!
//! It runs per request on a cached page, so it must be cheap; it may
//! reorder, drop or badge the products it was given, never invent them or
//! change their prices.

use vitrine_sdk::PluginError;
use vitrine_sdk::personalization::{Personalization, ProductSummary, ShopperContext};

/// The badge for products of recently viewed categories.
pub const FOR_YOU: &str = "for you";

/// `page`, in-stock products first, badged for `context`.
pub fn personalize(mut page: Vec<ProductSummary>, context: &ShopperContext) -> Vec<ProductSummary> {
    // A stable sort: the page's own order holds within each group.
    page.sort_by_key(|p| !p.in_stock);
    for product in &mut page {
        if context.recent_categories.contains(&product.category) && !product.badges.iter().any(|b| b == FOR_YOU) {
            product.badges.push(FOR_YOU.to_owned());
        }
    }
    page
}

/// The plugin.
pub struct {{type}};

impl Personalization for {{type}} {
    fn personalize(page: Vec<ProductSummary>, context: &ShopperContext) -> Result<Vec<ProductSummary>, PluginError> {
        Ok(personalize(page, context))
    }
}

vitrine_sdk::export_personalization!({{type}});
// One call per instance: small allocations bump a pointer in one chunk of
// the initial heap instead of going through dlmalloc. See `vitrine_sdk::alloc`.
vitrine_sdk::use_call_arena!();

#[cfg(test)]
mod tests {
    use super::*;
    use vitrine_sdk::Money;

    fn product(id: &str, category: &str, in_stock: bool) -> ProductSummary {
        ProductSummary {
            id: id.to_owned(),
            sku: id.to_uppercase(),
            name: id.to_owned(),
            brand: "acme".to_owned(),
            category: category.to_owned(),
            price: Money { amount_minor: 1_000, currency: "ZAR".to_owned() },
            in_stock,
            badges: Vec::new(),
        }
    }

    #[test]
    fn in_stock_first_and_badged() {
        let page = vec![product("a", "hats", false), product("b", "shoes", true), product("c", "hats", true)];
        let context = ShopperContext {
            segments: Vec::new(),
            locale: None,
            recently_viewed: Vec::new(),
            recent_categories: vec!["hats".to_owned()],
            on_promotion: Vec::new(),
        };
        let out = personalize(page, &context);
        let ids: Vec<_> = out.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["b", "c", "a"]);
        assert_eq!(out[1].badges, [FOR_YOU]);
        assert!(out[0].badges.is_empty());
    }
}
