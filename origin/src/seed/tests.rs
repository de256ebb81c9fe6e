use std::collections::HashSet;

use super::data::{CATEGORIES, KINDS, Values};
use super::*;
use crate::config::Config;
use crate::db::Db;

// ---- the fixed vocabulary ----

#[test]
fn category_tree_is_well_formed() {
    let categories = demo_categories();
    let slugs: HashSet<&str> = categories.iter().map(|c| c.slug.as_str()).collect();
    assert_eq!(slugs.len(), categories.len(), "slugs are unique");
    let paths: HashSet<&str> = categories.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths.len(), categories.len(), "paths are unique");
    for c in &categories {
        assert!(
            !c.slug.is_empty()
                && c.slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !c.slug.starts_with('-')
                && !c.slug.ends_with('-'),
            "slug `{}` is lowercase with dashes",
            c.slug
        );
        assert!(c.path.ends_with(&format!("{}/", c.slug)), "{}", c.path);
        match &c.parent_slug {
            None => assert_eq!(c.path, format!("{}/", c.slug)),
            Some(parent) => {
                let parent = categories.iter().find(|p| &p.slug == parent).expect("parent exists");
                assert_eq!(c.path, format!("{}{}/", parent.path, c.slug));
            }
        }
    }

    let roots: Vec<&SeedCategory> = categories.iter().filter(|c| c.parent_slug.is_none()).collect();
    assert!((9..=12).contains(&roots.len()), "about ten roots, got {}", roots.len());
    for name in [
        "paint",
        "tools",
        "garden",
        "bathroom",
        "kitchen",
        "plumbing",
        "electrical",
        "lighting",
    ] {
        assert!(roots.iter().any(|r| r.slug == name), "root `{name}` exists");
    }
    for root in &roots {
        let children = categories
            .iter()
            .filter(|c| c.parent_slug.as_deref() == Some(&root.slug))
            .count();
        assert!(
            (2..=5).contains(&children),
            "`{}` has {children} sub-categories",
            root.slug
        );
    }
    assert!(categories.iter().any(|c| c.path == "tools/power-tools/drills/"));
    let third_level = categories.iter().filter(|c| c.path.matches('/').count() == 3).count();
    assert!(third_level >= 10, "only {third_level} third-level categories");
}

#[test]
fn every_leaf_sells_something_and_only_leaves_do() {
    let categories = demo_categories();
    let is_leaf = |slug: &str| !categories.iter().any(|c| c.parent_slug.as_deref() == Some(slug));
    for kind in KINDS {
        assert!(
            categories.iter().any(|c| c.slug == kind.leaf),
            "`{}` names a category",
            kind.name
        );
        assert!(
            is_leaf(kind.leaf),
            "`{}` is sold in leaf categories only, not `{}`",
            kind.name,
            kind.leaf
        );
    }
    for c in categories.iter().filter(|c| is_leaf(&c.slug)) {
        assert!(
            KINDS.iter().any(|k| k.leaf == c.slug),
            "leaf `{}` has no products",
            c.slug
        );
    }
    for root in CATEGORIES.iter().filter(|c| c.parent.is_none()) {
        assert_eq!(root.code.len(), 3, "root `{}` has a three-letter SKU code", root.slug);
    }
}

#[test]
fn kinds_are_consistent() {
    for kind in KINDS {
        assert!(
            kind.weight > 0 && !kind.offers.is_empty() && !kind.blurb.is_empty(),
            "{}",
            kind.name
        );
        assert!(
            kind.price.0 >= 10 && kind.price.0 <= kind.price.1,
            "{}: price range",
            kind.name
        );
        let mut rest = kind.name;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').expect("placeholder is closed") + open;
            let key = &rest[open + 1..close];
            let known = matches!(key, "brand" | "line" | "model")
                || kind
                    .attrs
                    .iter()
                    .any(|a| a.key == key && !matches!(a.values, Values::Flag { .. }));
            assert!(known, "`{}` names unknown placeholder `{key}`", kind.name);
            rest = &rest[close + 1..];
        }
        let keys: HashSet<&str> = kind.attrs.iter().map(|a| a.key).collect();
        assert_eq!(keys.len(), kind.attrs.len(), "{}: attribute keys are unique", kind.name);
        for attr in kind.attrs {
            match attr.values {
                Values::Flag { chance, markup } => {
                    assert!(attr.phrase.contains('|') && (0.0..=1.0).contains(&chance) && markup > 0.0)
                }
                Values::Words(v) => assert!(!v.is_empty() && attr.phrase.contains("{}")),
                Values::PricedWords(v) => assert!(!v.is_empty() && attr.phrase.contains("{}")),
                Values::Nums(v) => assert!(!v.is_empty() && attr.phrase.contains("{}")),
                Values::Sized(v) => assert!(!v.is_empty() && attr.phrase.contains("{}")),
                Values::Range(lo, hi) => assert!(lo <= hi && attr.phrase.contains("{}")),
            }
        }
        let uses_model = kind.name.contains("{model}");
        for offer in kind.offers {
            assert_eq!(
                !offer.model.is_empty(),
                uses_model,
                "{}: {} model pattern",
                kind.name,
                offer.brand
            );
        }
    }
}

// ---- generation ----

#[test]
fn retail_prices_end_in_99_or_95() {
    assert_eq!(retail_price(247.13, false), 24_999);
    assert_eq!(retail_price(247.13, true), 24_995);
    assert_eq!(retail_price(34.4, false), 3_499);
    assert_eq!(retail_price(1_712.0, false), 169_999);
    assert_eq!(retail_price(18_040.0, false), 1_799_999);
    assert_eq!(retail_price(0.2, false), 199);
}

#[test]
fn names_fill_placeholders_and_close_gaps() {
    let shown = [("voltage", "18".to_owned())];
    assert_eq!(
        render_name(
            "{brand} {line} {voltage}V Cordless Drill Driver {model}",
            "Makita",
            "LXT",
            "DDF482",
            &shown
        ),
        "Makita LXT 18V Cordless Drill Driver DDF482"
    );
    assert_eq!(
        render_name("{brand} {line} Drill {model}", "Bosch", "", "", &shown),
        "Bosch Drill"
    );
    assert_eq!(join_list(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    assert_eq!(phrase("a {} shade", "Oregon"), "an Oregon shade");
    assert_eq!(phrase("a {} V battery", "18"), "an 18 V battery");
    assert_eq!(phrase("a {} V battery", "12"), "a 12 V battery");
    assert_eq!(phrase("a {} W motor", "850"), "an 850 W motor");
    assert_eq!(phrase("a {} W motor", "1800"), "a 1800 W motor");
    assert_eq!(phrase("{} tap hole(s)", "1"), "1 tap hole");
    assert_eq!(phrase("{} tap hole(s)", "3"), "3 tap holes");
}

#[test]
fn same_seed_same_products_other_seed_other_products() {
    let generator = Generator::new();
    for index in [0, 1, 999, 49_999] {
        assert_eq!(generator.product(42, index), Generator::new().product(42, index));
        let other = generator.product(43, index);
        let this = generator.product(42, index);
        assert_ne!(this.id, other.id);
        assert_eq!(this.sku[7..], other.sku[7..], "the SKU number is the index");
    }
    let differing = (0..100)
        .filter(|&i| generator.product(42, i).name != generator.product(43, i).name)
        .count();
    assert!(differing > 80, "only {differing} of 100 names differ between seeds");
}

#[test]
fn generated_products_look_like_a_shop() {
    let generator = Generator::new();
    let products: Vec<SeedProduct> = (0..10_000).map(|i| generator.product(42, i)).collect();
    let ids: HashSet<Uuid> = products.iter().map(|p| p.id).collect();
    let skus: HashSet<&str> = products.iter().map(|p| p.sku.as_str()).collect();
    assert_eq!(ids.len(), products.len());
    assert_eq!(skus.len(), products.len());
    for p in &products {
        assert_eq!(p.id.get_version(), Some(uuid::Version::Random));
        assert!(p.sku.starts_with("VT-") && p.sku.len() == 13, "{}", p.sku);
        assert!(
            p.price_minor > 0 && matches!(p.price_minor % 100, 99 | 95),
            "{}",
            p.price_minor
        );
        assert!((0..=500).contains(&p.stock));
        assert!((0..10_000).contains(&p.popularity));
        assert!(p.category_path.ends_with(&format!("{}/", p.category_slug)));
        assert!(!p.name.contains(['{', '}']) && !p.name.contains("  ") && p.name.starts_with(p.brand));
        assert!(
            !p.description.contains(['{', '}', '|']) && p.description.len() > 80,
            "{}",
            p.description
        );
        assert!((1..=3).contains(&p.images.len()));
        assert_eq!(p.images[0].url, format!("/images/{}-1.jpg", p.sku));
        assert_eq!(p.images[0].alt, p.name);
        assert!(!p.attributes.is_empty());
    }
    let out_of_stock = products.iter().filter(|p| p.stock == 0).count();
    assert!(
        (300..=800).contains(&out_of_stock),
        "{out_of_stock} of 10000 out of stock"
    );
    let popular = products.iter().filter(|p| p.popularity >= 5_000).count();
    assert!(popular < 2_000, "popularity is skewed: {popular} of 10000 score 5000+");
    let categories: HashSet<&str> = products.iter().map(|p| p.category_slug).collect();
    assert!(
        categories.len() > 60,
        "products spread over {} categories",
        categories.len()
    );
}

#[test]
fn paint_and_drills_read_like_the_real_thing() {
    let generator = Generator::new();
    let products: Vec<SeedProduct> = (0..3_000).map(|i| generator.product(42, i)).collect();
    let paint = products
        .iter()
        .find(|p| p.category_slug == "exterior-paint")
        .expect("some exterior paint");
    assert!(paint.sku.starts_with("VT-PNT-"));
    assert!(
        paint.name.contains("Exterior Paint") && paint.name.ends_with('L'),
        "{}",
        paint.name
    );
    for key in ["colour", "finish", "volume_l", "coverage_m2_per_l"] {
        assert!(paint.attributes.contains_key(key), "paint has {key}");
    }
    let drill = products
        .iter()
        .find(|p| p.category_slug == "drills")
        .expect("some drills");
    assert!(drill.category_path == "tools/power-tools/drills/" && drill.sku.starts_with("VT-TLS-"));
    assert!(
        [
            "Makita",
            "Bosch",
            "DeWalt",
            "Ryobi",
            "Stanley",
            "Milwaukee",
            "Black+Decker"
        ]
        .contains(&drill.brand)
    );
    assert!(drill.attributes.contains_key("chuck_mm"));
    // Five litres of paint cost more than one litre of the same kind, on average.
    let mean = |litres: i64| {
        let prices: Vec<i64> = products
            .iter()
            .filter(|p| p.category_slug == "interior-paint" && p.attributes["volume_l"] == litres)
            .map(|p| p.price_minor)
            .collect();
        prices.iter().sum::<i64>() / prices.len().max(1) as i64
    };
    assert!(mean(5) > 2 * mean(1), "5 L {} vs 1 L {}", mean(5), mean(1));
}

// ---- against a database ----

async fn embedded_state(dir: &tempfile::TempDir) -> AppState {
    AppState::connect(Config::embedded(dir.path()), true)
        .await
        .expect("embedded state")
}

async fn count(db: &Db, sql: &'static str) -> i64 {
    with_db!(db, pool => sqlx::query_scalar(sql).fetch_one(pool).await).expect(sql)
}

async fn sample(db: &Db) -> Vec<(Uuid, String, String, i64)> {
    with_db!(db, pool => sqlx::query_as(
        "SELECT id, sku, name, price_minor FROM products WHERE sku LIKE '%-000001' OR sku LIKE '%-000002' \
         OR sku LIKE '%-000100' OR sku LIKE '%-001999' ORDER BY sku"
    ).fetch_all(pool).await)
    .expect("sample rows")
}

/// What every seeded database must satisfy, on either engine.
async fn check_seeded(state: &AppState, products: i64) {
    let db = &state.db;
    assert_eq!(count(db, "SELECT count(*) FROM products").await, products);
    let orphans = "SELECT count(*) FROM products p WHERE NOT EXISTS \
                   (SELECT 1 FROM categories c WHERE c.path = p.category_path AND c.slug = p.category_slug)";
    assert_eq!(count(db, orphans).await, 0, "every category_path is a category's path");
    assert_eq!(
        count(db, "SELECT count(*) FROM products WHERE category_path NOT LIKE '%/'").await,
        0
    );
    assert_eq!(
        count(db, "SELECT count(*) FROM categories WHERE path NOT LIKE '%/'").await,
        0
    );
    assert_eq!(
        count(db, "SELECT count(*) FROM products WHERE price_minor <= 0 OR stock < 0").await,
        0
    );
    assert_eq!(
        count(db, "SELECT count(*) FROM categories WHERE parent_slug IS NULL AND slug IN ('paint', 'tools', 'garden', 'bathroom')").await,
        4
    );

    // The catalog reads back what was written, JSON and timestamps included.
    let (id, sku): (Uuid, String) = with_db!(db, pool => sqlx::query_as(
        "SELECT id, sku FROM products ORDER BY sku LIMIT 1"
    ).fetch_one(pool).await)
    .expect("a product");
    let product = crate::catalog::product(db, id)
        .await
        .expect("read product")
        .expect("product exists");
    assert_eq!(product.sku, sku);
    assert_eq!(product.price.currency, state.config.currency);
    assert!(!product.images.is_empty() && !product.attributes.is_empty());
    let page = crate::catalog::category_products(db, "tools", crate::catalog::Sort::Popular, 1, 10)
        .await
        .expect("listing")
        .expect("tools exists");
    assert!(page.total > 0 && !page.products.is_empty());
}

#[tokio::test]
async fn seeding_sqlite_is_deterministic_and_idempotent() {
    let args = SeedArgs {
        products: 2_500,
        seed: 42,
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let state = embedded_state(&dir).await;

    let first = run(&state, &args).await.expect("first seed");
    assert_eq!(first.categories_created, demo_categories().len() as u64);
    assert_eq!((first.products_created, first.products_skipped), (2_500, 0));
    check_seeded(&state, 2_500).await;
    let events = crate::outbox::read_after(&state.db, 0, 10).await.expect("outbox");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].topic, "catalog.seeded");
    assert!(events[0].surrogate_keys.0.contains(&"category:drills".to_owned()));

    let again = run(&state, &args).await.expect("second seed");
    assert_eq!(
        (again.categories_created, again.categories_existing),
        (0, first.categories_created)
    );
    assert_eq!((again.products_created, again.products_skipped), (0, 2_500));
    assert_eq!(count(&state.db, "SELECT count(*) FROM products").await, 2_500);
    assert_eq!(
        crate::outbox::read_after(&state.db, 0, 10).await.expect("outbox").len(),
        1,
        "nothing new"
    );
    let text = again.to_string();
    assert!(
        text.contains("0 created, 2500 skipped") && text.contains("products/s"),
        "{text}"
    );

    let grown = run(
        &state,
        &SeedArgs {
            products: 3_000,
            seed: 42,
        },
    )
    .await
    .expect("grown seed");
    assert_eq!((grown.products_created, grown.products_skipped), (500, 2_500));

    let same_dir = tempfile::tempdir().expect("temp dir");
    let same = embedded_state(&same_dir).await;
    run(
        &same,
        &SeedArgs {
            products: 3_000,
            seed: 42,
        },
    )
    .await
    .expect("same seed");
    let rows = sample(&state.db).await;
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows, sample(&same.db).await);

    let other_dir = tempfile::tempdir().expect("temp dir");
    let other = embedded_state(&other_dir).await;
    run(
        &other,
        &SeedArgs {
            products: 3_000,
            seed: 7,
        },
    )
    .await
    .expect("other seed");
    assert_ne!(rows, sample(&other.db).await);
}

#[tokio::test]
async fn seeding_refuses_a_conflicting_category_tree() {
    let dir = tempfile::tempdir().expect("temp dir");
    let state = embedded_state(&dir).await;
    with_db!(&state.db, pool => sqlx::query(
        "INSERT INTO categories (slug, name, parent_slug, path, position) VALUES ('drills', 'Drills', NULL, 'drills/', 0)"
    ).execute(pool).await.map(|r| r.rows_affected()))
    .expect("insert");
    let err = run(&state, &SeedArgs { products: 10, seed: 1 })
        .await
        .expect_err("conflict");
    assert!(
        format!("{err:#}").contains("category `drills` already exists"),
        "{err:#}"
    );
    assert_eq!(
        count(&state.db, "SELECT count(*) FROM products").await,
        0,
        "rolled back"
    );
}

/// Creates a fresh Postgres database, or `None` when no server is configured
/// and none is required.
async fn fresh_postgres() -> Option<String> {
    let Ok(admin_url) = std::env::var("VITRINE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var_os("VITRINE_REQUIRE_SERVICES").is_none(),
            "VITRINE_TEST_DATABASE_URL must be set: run tests through `tests/run`"
        );
        eprintln!("SKIPPED: no Postgres configured (VITRINE_TEST_DATABASE_URL)");
        return None;
    };
    let name = format!("vt_seed_{}", Uuid::new_v4().simple());
    let admin = Db::connect(&admin_url, 1).await.expect("admin connection");
    let Db::Postgres(pool) = &admin else {
        panic!("VITRINE_TEST_DATABASE_URL is not a postgres url")
    };
    // The name is made of hex digits generated here, never of input.
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(pool)
        .await
        .expect("create database");
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

#[tokio::test]
async fn seeding_postgres_is_deterministic_and_idempotent() {
    let Some(url) = fresh_postgres().await else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::embedded(dir.path());
    config.database_url = Some(url);
    let state = AppState::connect(config, true).await.expect("postgres state");
    let args = SeedArgs {
        products: 2_500,
        seed: 42,
    };

    let first = run(&state, &args).await.expect("first seed");
    assert_eq!((first.products_created, first.products_skipped), (2_500, 0));
    check_seeded(&state, 2_500).await;
    let again = run(&state, &args).await.expect("second seed");
    assert_eq!(
        (again.categories_created, again.products_created, again.products_skipped),
        (0, 0, 2_500)
    );

    // The same rows as SQLite: the generator, not the engine, decides.
    let sqlite_dir = tempfile::tempdir().expect("temp dir");
    let sqlite = embedded_state(&sqlite_dir).await;
    run(
        &sqlite,
        &SeedArgs {
            products: 2_500,
            seed: 42,
        },
    )
    .await
    .expect("sqlite seed");
    assert_eq!(sample(&state.db).await, sample(&sqlite.db).await);
    state.db.close().await;
}
