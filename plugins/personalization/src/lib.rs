//! `personalization`: one cached catalog page, reordered for each shopper.
//!
//! Products of categories the shopper's segments care about, and of the
//! categories they viewed most recently, move up; products on promotion get
//! a badge; products out of stock move to the end (or are hidden). Ties keep
//! the page's own order (the origin's sort), so a shopper with no context
//! sees the page as cached, and the same input always gives the same page.
//!
//! Settings (through the `config` capability), all optional:
//! - `segment_categories`: which categories each segment cares about, as
//!   `segment=slug,slug; segment=slug`, e.g. `trade=power-tools,fasteners; gardener=garden`;
//! - `segment_weight` (default 4): score of a product in a category of one of
//!   the shopper's segments;
//! - the most recently viewed category scores 3, the next 2, the three after
//!   that 1 (`recent_weight` scales them; default 1, 0 turns it off);
//! - `promotion_badge` (default `On promotion`; empty turns it off);
//! - `out_of_stock`: `last` (default), `hide` or `keep`.

use std::collections::BTreeMap;

use vitrine_sdk::PluginError;
use vitrine_sdk::config::parse_value;
use vitrine_sdk::personalization::{Personalization, ProductSummary, ShopperContext};

/// What happens to products out of stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfStock {
    /// After every product in stock.
    Last,
    /// Not shown.
    Hide,
    /// Where the score puts them.
    Keep,
}

/// The plugin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Segment → the category slugs it boosts.
    pub segment_categories: BTreeMap<String, Vec<String>>,
    /// Score of a product in a boosted category of one of the shopper's segments.
    pub segment_weight: u32,
    /// Multiplier of the recently-viewed-category scores (3, 2, 1, 1, 1).
    pub recent_weight: u32,
    /// Badge for products on promotion; `None` adds none.
    pub promotion_badge: Option<String>,
    /// What happens to products out of stock.
    pub out_of_stock: OutOfStock,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            segment_categories: BTreeMap::new(),
            segment_weight: 4,
            recent_weight: 1,
            promotion_badge: Some("On promotion".into()),
            out_of_stock: OutOfStock::Last,
        }
    }
}

/// Scores of the recently viewed categories, most recent first.
const RECENT_SCORES: [u32; 5] = [3, 2, 1, 1, 1];

impl Settings {
    /// Reads the settings through `get` (the `config` capability in a
    /// component, anything in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, PluginError> {
        let mut settings = Settings::default();
        if let Some(spec) = get("segment_categories") {
            settings.segment_categories = parse_segment_categories(&spec)?;
        }
        if let Some(value) = get("segment_weight") {
            settings.segment_weight = parse_value("segment_weight", value.trim())?;
        }
        if let Some(value) = get("recent_weight") {
            settings.recent_weight = parse_value("recent_weight", value.trim())?;
        }
        if let Some(value) = get("promotion_badge") {
            let value = value.trim();
            settings.promotion_badge = (!value.is_empty()).then(|| value.to_owned());
        }
        if let Some(value) = get("out_of_stock") {
            settings.out_of_stock = match value.trim() {
                "last" => OutOfStock::Last,
                "hide" => OutOfStock::Hide,
                "keep" => OutOfStock::Keep,
                other => {
                    return Err(PluginError::Config(format!(
                        "setting `out_of_stock` is `{other}`; expected `last`, `hide` or `keep`"
                    )));
                }
            };
        }
        Ok(settings)
    }
}

/// Parses `segment=slug,slug; segment=slug`.
fn parse_segment_categories(spec: &str) -> Result<BTreeMap<String, Vec<String>>, PluginError> {
    let mut map = BTreeMap::new();
    for entry in spec.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (segment, slugs) = entry.split_once('=').ok_or_else(|| {
            PluginError::Config(format!(
                "setting `segment_categories`: `{entry}` is not `segment=category,category`"
            ))
        })?;
        let segment = segment.trim();
        let slugs: Vec<String> = slugs
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        if segment.is_empty() || slugs.is_empty() {
            return Err(PluginError::Config(format!(
                "setting `segment_categories`: `{entry}` names no segment or no category"
            )));
        }
        map.entry(segment.to_owned()).or_insert_with(Vec::new).extend(slugs);
    }
    Ok(map)
}

/// How much `product` interests the shopper in `context`.
fn score(settings: &Settings, context: &ShopperContext, product: &ProductSummary) -> u32 {
    let category = product.category.as_str();
    let segment = context
        .segments
        .iter()
        .filter_map(|s| settings.segment_categories.get(s))
        .any(|slugs| slugs.iter().any(|slug| slug == category));
    let recent = context
        .recent_categories
        .iter()
        .zip(RECENT_SCORES)
        .find(|(slug, _)| slug.as_str() == category)
        .map_or(0, |(_, score)| score);
    u32::from(segment) * settings.segment_weight + recent * settings.recent_weight
}

/// `page` personalized for `context` under `settings`.
pub fn personalize(
    settings: &Settings,
    mut page: Vec<ProductSummary>,
    context: &ShopperContext,
) -> Vec<ProductSummary> {
    if settings.out_of_stock == OutOfStock::Hide {
        page.retain(|p| p.in_stock);
    }
    if let Some(badge) = &settings.promotion_badge {
        for product in &mut page {
            if context.on_promotion.contains(&product.id) && !product.badges.contains(badge) {
                product.badges.push(badge.clone());
            }
        }
    }
    let sink = settings.out_of_stock == OutOfStock::Last;
    // A stable sort: equal keys keep the cached page's order.
    page.sort_by_cached_key(|p| (sink && !p.in_stock, std::cmp::Reverse(score(settings, context, p))));
    page
}

/// The plugin: settings from the `config` capability, then [`personalize`].
pub struct SegmentBoost;

impl Personalization for SegmentBoost {
    fn personalize(page: Vec<ProductSummary>, context: &ShopperContext) -> Result<Vec<ProductSummary>, PluginError> {
        let settings = Settings::from_lookup(vitrine_sdk::config::get)?;
        Ok(personalize(&settings, page, context))
    }
}

vitrine_sdk::export_personalization!(SegmentBoost);
// One call per instance: small allocations bump a pointer in one chunk of
// the initial heap instead of going through dlmalloc. See `vitrine_sdk::alloc`.
vitrine_sdk::use_call_arena!();

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is the failure report
mod tests {
    use super::*;
    use proptest::prelude::*;
    use vitrine_sdk::Money;

    fn product(id: &str, category: &str, in_stock: bool) -> ProductSummary {
        ProductSummary {
            id: id.into(),
            sku: format!("SKU-{id}"),
            name: format!("Product {id}"),
            brand: "acme".into(),
            category: category.into(),
            price: Money {
                amount_minor: 1_000,
                currency: "ZAR".into(),
            },
            in_stock,
            badges: vec![],
        }
    }

    fn context(segments: &[&str], recent: &[&str], promoted: &[&str]) -> ShopperContext {
        let owned = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect();
        ShopperContext {
            segments: owned(segments),
            locale: Some("en-ZA".into()),
            recently_viewed: vec![],
            recent_categories: owned(recent),
            on_promotion: owned(promoted),
        }
    }

    fn ids(page: &[ProductSummary]) -> Vec<&str> {
        page.iter().map(|p| p.id.as_str()).collect()
    }

    fn settings(spec: &str) -> Settings {
        Settings {
            segment_categories: parse_segment_categories(spec).unwrap(),
            ..Settings::default()
        }
    }

    fn page() -> Vec<ProductSummary> {
        vec![
            product("1", "paint", true),
            product("2", "garden", true),
            product("3", "drills", false),
            product("4", "drills", true),
            product("5", "fasteners", true),
        ]
    }

    #[test]
    fn no_context_keeps_the_cached_order_but_sinks_out_of_stock() {
        let out = personalize(&Settings::default(), page(), &context(&[], &[], &[]));
        assert_eq!(ids(&out), ["1", "2", "4", "5", "3"]);
    }

    #[test]
    fn segment_categories_move_up_in_page_order() {
        let s = settings("trade=drills,fasteners; gardener=garden");
        let out = personalize(&s, page(), &context(&["trade"], &[], &[]));
        // Trade boosts drills (4) and fasteners (5), in the page's order; 3 is out of stock.
        assert_eq!(ids(&out), ["4", "5", "1", "2", "3"]);
        let out = personalize(&s, page(), &context(&["gardener"], &[], &[]));
        assert_eq!(ids(&out), ["2", "1", "4", "5", "3"]);
    }

    #[test]
    fn recent_categories_score_by_recency_and_add_to_segments() {
        let s = settings("trade=fasteners");
        // garden most recent (3), paint next (2); trade → fasteners (4).
        let out = personalize(&s, page(), &context(&["trade"], &["garden", "paint"], &[]));
        assert_eq!(ids(&out), ["5", "2", "1", "4", "3"]);
        // Recency off: only the segment counts.
        let off = Settings { recent_weight: 0, ..s };
        let out = personalize(&off, page(), &context(&["trade"], &["garden", "paint"], &[]));
        assert_eq!(ids(&out), ["5", "1", "2", "4", "3"]);
    }

    #[test]
    fn products_on_promotion_get_one_badge() {
        let mut cached = page();
        cached[1].badges.push("On promotion".into());
        let out = personalize(&Settings::default(), cached, &context(&[], &[], &["2", "5"]));
        let badges: Vec<(&str, &[String])> = out.iter().map(|p| (p.id.as_str(), p.badges.as_slice())).collect();
        assert_eq!(badges[1], ("2", &["On promotion".to_owned()][..]));
        assert_eq!(badges[3], ("5", &["On promotion".to_owned()][..]));
        assert!(badges[0].1.is_empty());
        let quiet = Settings {
            promotion_badge: None,
            ..Settings::default()
        };
        let out = personalize(&quiet, page(), &context(&[], &[], &["2"]));
        assert!(out.iter().all(|p| p.badges.is_empty()));
    }

    #[test]
    fn out_of_stock_can_be_hidden_or_kept_in_place() {
        let hide = Settings {
            out_of_stock: OutOfStock::Hide,
            ..Settings::default()
        };
        assert_eq!(
            ids(&personalize(&hide, page(), &context(&[], &[], &[]))),
            ["1", "2", "4", "5"]
        );
        let keep = Settings {
            out_of_stock: OutOfStock::Keep,
            ..settings("trade=drills")
        };
        assert_eq!(
            ids(&personalize(&keep, page(), &context(&["trade"], &[], &[]))),
            ["3", "4", "1", "2", "5"]
        );
    }

    #[test]
    fn settings_are_read_and_checked() {
        let lookup = |pairs: &'static [(&'static str, &'static str)]| {
            Settings::from_lookup(move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| (*v).to_owned()))
        };
        assert_eq!(lookup(&[]).unwrap(), Settings::default());
        let s = lookup(&[
            ("segment_categories", " trade = drills , fasteners ;; diy=paint "),
            ("segment_weight", "7"),
            ("promotion_badge", ""),
            ("out_of_stock", "hide"),
        ])
        .unwrap();
        assert_eq!(s.segment_categories["trade"], ["drills", "fasteners"]);
        assert_eq!(s.segment_categories["diy"], ["paint"]);
        assert_eq!(s.segment_weight, 7);
        assert_eq!(s.promotion_badge, None);
        assert_eq!(s.out_of_stock, OutOfStock::Hide);
        for bad in [
            &[("segment_categories", "trade")][..],
            &[("segment_categories", "=drills")],
            &[("segment_categories", "trade=")],
            &[("segment_weight", "-1")],
            &[("out_of_stock", "first")],
        ] {
            assert!(matches!(lookup(bad), Err(PluginError::Config(_))), "{bad:?}");
        }
    }

    fn arb_page() -> impl Strategy<Value = Vec<ProductSummary>> {
        let categories = ["paint", "garden", "drills", "fasteners", "lighting"];
        proptest::collection::vec((0usize..5, any::<bool>(), 0i64..1_000_000), 0..40).prop_map(move |items| {
            items
                .into_iter()
                .enumerate()
                .map(|(i, (c, in_stock, price))| {
                    let mut p = product(&i.to_string(), categories[c], in_stock);
                    p.price.amount_minor = price;
                    p
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn only_reorders_badges_or_drops_and_is_deterministic(
            page in arb_page(),
            segments in proptest::sample::subsequence(vec!["trade", "gardener"], 0..=2),
            recent in proptest::sample::subsequence(vec!["paint", "garden", "drills"], 0..=3),
            hide in any::<bool>(),
        ) {
            let s = Settings {
                out_of_stock: if hide { OutOfStock::Hide } else { OutOfStock::Last },
                ..settings("trade=drills,fasteners; gardener=garden")
            };
            let ctx = context(&segments, &recent, &["0", "3"]);
            let out = personalize(&s, page.clone(), &ctx);
            // Same products (minus hidden ones), each once, price untouched.
            let mut expected: Vec<&ProductSummary> = page.iter().filter(|p| !hide || p.in_stock).collect();
            expected.sort_by(|a, b| a.id.cmp(&b.id));
            let mut got: Vec<&ProductSummary> = out.iter().collect();
            got.sort_by(|a, b| a.id.cmp(&b.id));
            prop_assert_eq!(got.len(), expected.len());
            for (g, e) in got.iter().zip(&expected) {
                prop_assert_eq!(&g.id, &e.id);
                prop_assert_eq!(&g.price, &e.price);
            }
            // In stock first.
            let first_out = out.iter().position(|p| !p.in_stock).unwrap_or(out.len());
            prop_assert!(out[first_out..].iter().all(|p| !p.in_stock));
            // Scores never increase down the in-stock part.
            let scores: Vec<u32> = out[..first_out].iter().map(|p| score(&s, &ctx, p)).collect();
            prop_assert!(scores.windows(2).all(|w| w[0] >= w[1]));
            prop_assert_eq!(personalize(&s, page, &ctx), out);
        }
    }
}
