//! The demo catalog behind `vitrine-origin seed`: a DIY / home-improvement
//! store with a fixed category tree (paint, tools, garden, bathroom, ...) and
//! as many products as asked for, generated from a seed.
//!
//! Invariants:
//!
//! - **Deterministic.** Product `i` of seed `s` depends on `(s, i)` alone (its
//!   own ChaCha stream), so the same seed and count give the same ids, SKUs,
//!   names and prices on every machine, and a smaller run is a prefix of a
//!   larger one. Only `created_at` (a fixed age before the run) moves.
//! - **Idempotent.** Every insert is `ON CONFLICT DO NOTHING`, so re-running is
//!   harmless: it reports what already existed as skipped. Growing a catalog
//!   from 1 000 to 50 000 products with the same seed adds the other 49 000.
//! - **One transaction.** The categories, the products and one outbox row
//!   (`catalog.seeded`, purging every category listing) commit together.
//!
//! ```no_run
//! # async fn run(state: &vitrine_origin::state::AppState) -> anyhow::Result<()> {
//! let args = vitrine_origin::seed::SeedArgs { products: 1_000, seed: 7 };
//! let report = vitrine_origin::seed::run(state, &args).await?;
//! println!("{report}");
//! # Ok(()) }
//! ```

mod data;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::distributions::{Distribution as _, WeightedIndex};
use rand::{Rng as _, RngCore as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use crate::catalog::Image;
use crate::db::{BeginWrite as _, Engine};
use crate::outbox::OutboxEvent;
use crate::state::AppState;
use crate::{with_db, write_outbox};

use self::data::{CATEGORIES, KINDS, Kind, Values};

/// Flags of `vitrine-origin seed`.
#[derive(Clone, Debug, clap::Args)]
pub struct SeedArgs {
    /// How many products to generate.
    #[arg(long, default_value_t = 50_000)]
    pub products: u32,
    /// Random seed; the same seed gives the same catalog.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Products per `INSERT`: 15 bound parameters a row keeps a statement well
/// under SQLite's 32 766 (and Postgres's 65 535) parameters.
const CHUNK_ROWS: u32 = 1_000;

/// Bound parameters per product row (`version` is a literal).
const PRODUCT_PARAMS: usize = 15;

const _: () = assert!(CHUNK_ROWS as usize * PRODUCT_PARAMS <= 32_766);

/// What a seed run did.
#[derive(Clone, Debug)]
pub struct SeedReport {
    /// The engine seeded.
    pub engine: Engine,
    /// The seed used.
    pub seed: u64,
    /// Categories inserted by this run.
    pub categories_created: u64,
    /// Categories that already existed.
    pub categories_existing: u64,
    /// Products inserted by this run.
    pub products_created: u64,
    /// Products that already existed (same id or SKU), left untouched.
    pub products_skipped: u64,
    /// Wall time of the whole run, generation included.
    pub elapsed: Duration,
}

impl SeedReport {
    /// Products generated and written (or skipped) per second.
    pub fn products_per_sec(&self) -> f64 {
        let products = (self.products_created + self.products_skipped) as f64;
        products / self.elapsed.as_secs_f64().max(1e-9)
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let engine = match self.engine {
            Engine::Postgres => "postgres",
            Engine::Sqlite => "sqlite",
        };
        writeln!(f, "seeded the demo catalog (seed {}, {engine})", self.seed)?;
        writeln!(
            f,
            "  categories: {} created, {} already present",
            self.categories_created, self.categories_existing
        )?;
        writeln!(
            f,
            "  products:   {} created, {} skipped (already present)",
            self.products_created, self.products_skipped
        )?;
        write!(
            f,
            "  elapsed:    {:.2}s ({:.0} products/s)",
            self.elapsed.as_secs_f64(),
            self.products_per_sec()
        )
    }
}

/// Seeds the demo catalog: the category tree, then `args.products` products.
pub async fn run(state: &AppState, args: &SeedArgs) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    let generator = Generator::new();
    let currency = state.config.currency.as_str();
    let now = chrono::Utc::now();
    tracing::info!(products = args.products, seed = args.seed, "seeding the demo catalog");

    let (categories_created, products_created) = with_db!(&state.db, pool => {
        let mut tx = pool.begin_write().await.context("while opening the seed transaction")?;

        let mut insert = sqlx::QueryBuilder::new("INSERT INTO categories (slug, name, parent_slug, path, position) ");
        insert.push_values(generator.categories(), |mut row, c| {
            row.push_bind(&c.slug)
                .push_bind(&c.name)
                .push_bind(&c.parent_slug)
                .push_bind(&c.path)
                .push_bind(c.position);
        });
        insert.push(" ON CONFLICT DO NOTHING");
        let categories_created = insert
            .build()
            .execute(&mut *tx)
            .await
            .context("while inserting the demo categories")?
            .rows_affected();

        let existing: Vec<(String, String)> = sqlx::query_as("SELECT slug, path FROM categories")
            .fetch_all(&mut *tx)
            .await
            .context("while reading back the categories")?;
        check_categories(generator.categories(), &existing)?;

        let mut products_created = 0;
        let mut start = 0;
        while start < args.products {
            let end = start.saturating_add(CHUNK_ROWS).min(args.products);
            let rows: Vec<SeedProduct> = (start..end).map(|index| generator.product(args.seed, index)).collect();
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO products (id, sku, name, description, brand, category_slug, category_path, attributes, \
                 images, price_minor, currency, stock, popularity, created_at, updated_at, version) ",
            );
            insert.push_values(&rows, |mut row, p| {
                let created_at = now - chrono::Duration::seconds(p.age_secs);
                row.push_bind(p.id)
                    .push_bind(&p.sku)
                    .push_bind(&p.name)
                    .push_bind(&p.description)
                    .push_bind(p.brand)
                    .push_bind(p.category_slug)
                    .push_bind(&p.category_path)
                    .push_bind(Json(&p.attributes))
                    .push_bind(Json(&p.images))
                    .push_bind(p.price_minor)
                    .push_bind(currency)
                    .push_bind(p.stock)
                    .push_bind(p.popularity)
                    .push_bind(created_at)
                    .push_bind(created_at)
                    .push("1");
            });
            insert.push(" ON CONFLICT DO NOTHING");
            products_created += insert
                .build()
                .execute(&mut *tx)
                .await
                .with_context(|| format!("while inserting demo products {start}..{end}"))?
                .rows_affected();
            start = end;
        }

        if categories_created + products_created > 0 {
            let event = OutboxEvent {
                topic: "catalog.seeded",
                entity: "catalog".to_owned(),
                surrogate_keys: generator
                    .categories()
                    .iter()
                    .flat_map(|c| [format!("category:{}", c.slug), format!("listing:{}", c.slug)])
                    .chain(["search".to_owned()])
                    .collect(),
                payload: serde_json::json!({
                    "seed": args.seed,
                    "categories_created": categories_created,
                    "products_created": products_created,
                }),
            };
            write_outbox!(&mut *tx, &event).context("while writing the catalog.seeded outbox event")?;
        }
        tx.commit().await.context("while committing the seed transaction")?;
        anyhow::Ok((categories_created, products_created))
    })?;

    let report = SeedReport {
        engine: state.db.engine(),
        seed: args.seed,
        categories_created,
        categories_existing: generator.categories().len() as u64 - categories_created,
        products_created,
        products_skipped: u64::from(args.products) - products_created,
        elapsed: started.elapsed(),
    };
    tracing::info!(
        categories_created,
        products_created,
        products_skipped = report.products_skipped,
        elapsed_ms = report.elapsed.as_millis() as u64,
        "demo catalog seeded"
    );
    Ok(report)
}

/// Fails if a category of the demo tree exists under another path (or its
/// path under another slug): products would then point at a missing subtree.
fn check_categories(wanted: &[SeedCategory], existing: &[(String, String)]) -> anyhow::Result<()> {
    let by_slug: HashMap<&str, &str> = existing.iter().map(|(s, p)| (s.as_str(), p.as_str())).collect();
    for category in wanted {
        match by_slug.get(category.slug.as_str()) {
            Some(path) if *path == category.path => {}
            Some(path) => anyhow::bail!(
                "category `{}` already exists with path `{path}`, not `{}`: the demo catalog cannot be seeded into \
                 this database",
                category.slug,
                category.path
            ),
            None => anyhow::bail!(
                "category path `{}` is taken by another slug than `{}`: the demo catalog cannot be seeded into this \
                 database",
                category.path,
                category.slug
            ),
        }
    }
    Ok(())
}

/// A category of the demo tree, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeedCategory {
    /// Unique slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The parent's slug; `None` for a root.
    pub parent_slug: Option<String>,
    /// Slugs from the root down, each followed by '/': `tools/power-tools/drills/`.
    pub path: String,
    /// Display order among its siblings.
    pub position: i32,
}

/// The demo category tree, parents before children.
pub fn demo_categories() -> Vec<SeedCategory> {
    let mut out: Vec<SeedCategory> = Vec::with_capacity(CATEGORIES.len());
    let mut siblings: HashMap<Option<&str>, i32> = HashMap::new();
    for def in CATEGORIES {
        let parent_path = match def.parent {
            None => String::new(),
            Some(parent) => out
                .iter()
                .find(|c| c.slug == parent)
                .map(|c| c.path.clone())
                .unwrap_or_else(|| panic!("demo category `{}` is listed before its parent `{parent}`", def.slug)),
        };
        let position = siblings.entry(def.parent).or_insert(0);
        out.push(SeedCategory {
            slug: def.slug.to_owned(),
            name: def.name.to_owned(),
            parent_slug: def.parent.map(str::to_owned),
            path: format!("{parent_path}{}/", def.slug),
            position: *position,
        });
        *position += 1;
    }
    out
}

/// One generated product, ready to insert.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedProduct {
    /// Stable id, derived from the seed and the index.
    pub id: Uuid,
    /// `VT-<root code>-<index + 1>`, e.g. `VT-PNT-000123`.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// One paragraph, generated from the attributes.
    pub description: String,
    /// Brand name.
    pub brand: &'static str,
    /// The leaf category.
    pub category_slug: &'static str,
    /// The leaf category's path, ending in '/'.
    pub category_path: String,
    /// Named attributes.
    pub attributes: BTreeMap<String, Value>,
    /// One to three images.
    pub images: Vec<Image>,
    /// Price in minor units, ending in 99 or 95.
    pub price_minor: i64,
    /// Units in stock, 0..=500.
    pub stock: i64,
    /// Popularity score, 0..10 000, most products low.
    pub popularity: i64,
    /// How long before the run the product was "added", in seconds.
    pub age_secs: i64,
}

/// A kind of product with its category resolved.
struct PreparedKind {
    def: &'static Kind,
    path: String,
    code: &'static str,
}

/// Generates demo products. Building one is cheap; reuse it across products.
pub struct Generator {
    categories: Vec<SeedCategory>,
    kinds: Vec<PreparedKind>,
    weights: WeightedIndex<u32>,
}

impl Default for Generator {
    fn default() -> Self {
        Self::new()
    }
}

impl Generator {
    /// Resolves every kind of product against the category tree.
    pub fn new() -> Self {
        let categories = demo_categories();
        let paths: HashMap<&str, &str> = categories.iter().map(|c| (c.slug.as_str(), c.path.as_str())).collect();
        let codes: HashMap<&str, &str> = CATEGORIES
            .iter()
            .filter(|c| c.parent.is_none())
            .map(|c| (c.slug, c.code))
            .collect();
        let kinds: Vec<PreparedKind> = KINDS
            .iter()
            .map(|def| {
                let path = paths.get(def.leaf).unwrap_or_else(|| {
                    panic!("demo product kind `{}` names unknown category `{}`", def.name, def.leaf)
                });
                let root = path.split('/').next().unwrap_or_default();
                PreparedKind {
                    def,
                    path: (*path).to_owned(),
                    code: codes.get(root).copied().unwrap_or("GEN"),
                }
            })
            .collect();
        let weights = WeightedIndex::new(KINDS.iter().map(|k| k.weight)).expect("demo kind weights are positive");
        Self {
            categories,
            kinds,
            weights,
        }
    }

    /// The category tree every product belongs to.
    pub fn categories(&self) -> &[SeedCategory] {
        &self.categories
    }

    /// Product `index` of the catalog of `seed`.
    pub fn product(&self, seed: u64, index: u32) -> SeedProduct {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(index));
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        let id = uuid::Builder::from_random_bytes(id).into_uuid();

        let kind = &self.kinds[self.weights.sample(&mut rng)];
        let def = kind.def;
        let offer = pick(&mut rng, def.offers);
        let line = if offer.lines.is_empty() {
            ""
        } else {
            *pick(&mut rng, offer.lines)
        };
        let model = expand_model(offer.model, &mut rng);

        let mut attributes = BTreeMap::new();
        let mut shown: Vec<(&str, String)> = Vec::with_capacity(def.attrs.len());
        let mut features = Vec::with_capacity(def.attrs.len());
        let mut remarks = Vec::new();
        let mut markup = 1.0;
        for attr in def.attrs {
            let (value, text) = match attr.values {
                Values::Words(words) => {
                    let word = *pick(&mut rng, words);
                    (Value::from(word), word.to_owned())
                }
                Values::PricedWords(words) => {
                    let (word, factor) = *pick(&mut rng, words);
                    markup *= factor;
                    (Value::from(word), word.to_owned())
                }
                Values::Nums(nums) => number(*pick(&mut rng, nums)),
                Values::Sized(sizes) => {
                    let (size, factor) = *pick(&mut rng, sizes);
                    markup *= factor;
                    number(size)
                }
                Values::Range(lo, hi) => {
                    let n = rng.gen_range(lo..=hi);
                    (Value::from(n), n.to_string())
                }
                Values::Flag { chance, markup: factor } => {
                    let on = rng.gen_bool(chance);
                    let (yes, no) = attr.phrase.split_once('|').unwrap_or((attr.phrase, ""));
                    if on {
                        markup *= factor;
                    }
                    let remark = if on { yes } else { no };
                    if !remark.is_empty() {
                        remarks.push(remark);
                    }
                    attributes.insert(attr.key.to_owned(), Value::Bool(on));
                    continue;
                }
            };
            features.push(phrase(attr.phrase, &text));
            attributes.insert(attr.key.to_owned(), value);
            shown.push((attr.key, text));
        }

        let name = render_name(def.name, offer.brand, line, &model, &shown);
        let sku = format!("VT-{}-{:06}", kind.code, u64::from(index) + 1);

        let mut description = String::with_capacity(320);
        description.push_str(def.blurb);
        if !features.is_empty() {
            description.push_str(" It has ");
            description.push_str(&join_list(&features));
            description.push('.');
        }
        for remark in remarks {
            description.push(' ');
            description.push_str(remark);
        }
        description.push(' ');
        description.push_str(&closing(&mut rng, offer.brand));

        let (lo, hi) = def.price;
        let rands = f64::from(rng.gen_range(lo..=hi)) * markup;
        let price_minor = retail_price(rands, rng.gen_bool(0.25));
        let stock = if rng.gen_bool(0.05) {
            0
        } else {
            let u: f64 = rng.gen_range(0.0..1.0);
            1 + (u * u * 500.0) as i64
        };
        let popularity = (rng.gen_range(0.0f64..1.0).powi(4) * 10_000.0) as i64;
        let age_secs = rng.gen_range(0..2 * 365 * 86_400);
        let images = (1..=rng.gen_range(1..=3))
            .map(|n| Image {
                url: format!("/images/{sku}-{n}.jpg"),
                alt: match n {
                    1 => name.clone(),
                    2 => format!("{name}, close-up"),
                    _ => format!("{name} in use"),
                },
            })
            .collect();

        debug_assert!(price_minor > 0 && (0..=500).contains(&stock));
        SeedProduct {
            id,
            sku,
            name,
            description,
            brand: offer.brand,
            category_slug: def.leaf,
            category_path: kind.path.clone(),
            attributes,
            images,
            price_minor,
            stock,
            popularity,
            age_secs,
        }
    }
}

/// `template` with `{}` replaced by `value`, `a` becoming `an` before a vowel
/// sound, and `(s)` plural unless the value is 1.
fn phrase(template: &str, value: &str) -> String {
    let mut out = template
        .replace("{}", value)
        .replace("(s)", if value == "1" { "" } else { "s" });
    if template.starts_with("a {}") && takes_an(value) {
        out.insert(1, 'n');
    }
    out
}

/// Whether "an" goes before `word`: a vowel, or a number said "eight..",
/// "eleven.." or "eighteen..".
fn takes_an(word: &str) -> bool {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    match word.as_bytes().first() {
        Some(b'8') => true,
        Some(b'1') if word.starts_with("11") || word.starts_with("18") => matches!(digits, 2 | 5),
        Some(c) => b"aeiouAEIOU".contains(c),
        None => false,
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    debug_assert!(!items.is_empty());
    &items[rng.gen_range(0..items.len())]
}

/// A JSON number (an integer when whole) and how names and descriptions show it.
fn number(x: f64) -> (Value, String) {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        let n = x as i64;
        (Value::from(n), n.to_string())
    } else {
        (Value::from(x), x.to_string())
    }
}

/// `#` in `pattern` becomes a random digit.
fn expand_model(pattern: &str, rng: &mut ChaCha8Rng) -> String {
    pattern
        .chars()
        .map(|c| {
            if c == '#' {
                char::from(b'0' + rng.gen_range(0..10u8))
            } else {
                c
            }
        })
        .collect()
}

/// Fills `{brand}`, `{line}`, `{model}` and `{<attribute>}` in `template`, and
/// collapses the gaps that empty lines and models leave.
fn render_name(template: &str, brand: &str, line: &str, model: &str, shown: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let key = &rest[open + 1..open + close];
        let value = match key {
            "brand" => brand,
            "line" => line,
            "model" => model,
            _ => shown
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| {
                    debug_assert!(false, "name template `{template}` names unknown attribute `{key}`");
                    ""
                }),
        };
        out.push_str(value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// "a", "a and b", "a, b and c".
fn join_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn closing(rng: &mut ChaCha8Rng, brand: &str) -> String {
    match rng.gen_range(0..5) {
        0 => format!("Backed by the {brand} manufacturer's warranty."),
        1 => "Available for home delivery or click-and-collect in store.".to_owned(),
        2 => "A favourite of DIYers and trade professionals alike.".to_owned(),
        3 => format!("Pairs well with the rest of the {brand} range."),
        _ => "Free returns within 30 days if it is not right for the job.".to_owned(),
    }
}

/// A shelf price in minor units from a rough price in rands: R249.99 rather
/// than R247.13. Whole rands round to tens (hundreds for the dearest items)
/// less one; the cents are 99, or 95 when `ninety_five`.
fn retail_price(rands: f64, ninety_five: bool) -> i64 {
    let rands = rands.max(1.0);
    let step = match rands {
        r if r < 100.0 => 1.0,
        r if r < 1_000.0 => 10.0,
        r if r < 10_000.0 => 50.0,
        _ => 100.0,
    };
    let whole = if step == 1.0 {
        rands.round() as i64
    } else {
        ((rands / step).round() * step) as i64 - 1
    };
    let cents = if ninety_five { 95 } else { 99 };
    whole.max(0) * 100 + cents
}

#[cfg(test)]
mod tests;
