//! From a shopper's words to ranked, faceted, highlighted results.
//!
//! The query is built term by term from the analyzer's tokens, never by
//! tantivy's query parser: `"`, `:`, `(`, `*`, `~` and friends are just
//! characters the tokenizer drops, so nothing a shopper types can change what
//! the query means or make it fail to parse.
//!
//! Each word must match (stop words like "for" and "the" only add score),
//! in any of the searched fields, as one of:
//! - the word itself, BM25-scored, weighted by field (name > brand, SKU >
//!   attributes > description);
//! - a word within an edit distance that grows with its length
//!   ([`edit_distance`]; transpositions cost one, so "drlil" finds "drill");
//! - for the last word, when the shopper has not typed a space after it, any
//!   word it starts ("cordl" → "cordless"), allowing one typo from five
//!   letters on;
//! - a synonym ("hoover" → "vacuum"), which may be several words.
//!
//! Typo and prefix matches score a constant below an exact match of the
//! same field, so exact words rank first. Under relevance order, popular
//! products get up to a fifth more score, which breaks ties among equals.

use std::collections::HashMap;
use std::ops::{Bound, Range};

use tantivy::collector::{Collector, FacetCollector, SegmentCollector, TopDocs};
use tantivy::columnar::{Column, StrColumn};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, ConstScoreQuery, FuzzyTermQuery, Occur, Query, RangeQuery, TermQuery,
};
use tantivy::schema::{Facet, IndexRecordOption, Value as _};
use tantivy::tokenizer::TextAnalyzer;
use tantivy::{DocAddress, DocId, Order, Score, SegmentReader, TantivyDocument, Term};
use uuid::Uuid;

use super::schema::{Fields, tokens, tokens_with_offsets};
use crate::catalog::{Image, ProductSummary};
use crate::money::Money;

/// Longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Most words a query may have.
pub const MAX_QUERY_WORDS: usize = 12;
/// Largest page.
pub const MAX_PER_PAGE: u32 = 100;
/// Deepest result reachable by paging (`page × per_page`).
pub const MAX_RESULT_WINDOW: u32 = 10_000;

/// Words that only add score: requiring them would drop "drill for
/// masonry" products whose text says "masonry drill".
const STOP_WORDS: &[&str] = &["a", "an", "and", "for", "in", "of", "on", "the", "to", "with"];

/// Searched fields and their weights.
const NAME_BOOST: Score = 5.0;
const BRAND_BOOST: Score = 3.0;
const SKU_BOOST: Score = 3.0;
const ATTRIBUTES_BOOST: Score = 1.5;
const DESCRIPTION_BOOST: Score = 1.0;
/// An exact SKU typed whole.
const SKU_EXACT_BOOST: Score = 20.0;
/// A typo match scores this share of the field's weight, as a constant.
const FUZZY_SHARE: Score = 0.3;
/// A prefix match scores this share of the field's weight, as a constant.
const PREFIX_SHARE: Score = 0.5;
/// A synonym's exact match scores this share of the word's own.
const SYNONYM_SHARE: Score = 0.8;
/// The most popularity adds to a relevance score, as a share of it.
const POPULARITY_SHARE: f32 = 0.2;
/// Popularity scores run 0..10 000 in the demo catalog; above saturates.
const POPULARITY_SCALE: f32 = 10_000.0;

/// Upper edges (exclusive) of the price ranges counted, in minor units; the
/// last range has no upper edge.
pub const PRICE_EDGES: &[u64] = &[10_000, 25_000, 50_000, 100_000, 250_000, 500_000];

/// How far a word may be from an indexed one: none up to three characters
/// (too many short words are one edit apart), one up to seven, two beyond.
/// Words with digits (`18v`, `500`) must match as typed: a one-digit typo
/// names another product.
pub fn edit_distance(word: &str) -> u8 {
    if word.chars().any(|c| c.is_ascii_digit()) {
        return 0;
    }
    match word.chars().count() {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    }
}

/// Typos allowed in the last word's prefix: one from five characters on.
fn prefix_distance(word: &str) -> u8 {
    if word.chars().any(|c| c.is_ascii_digit()) || word.chars().count() < 5 {
        0
    } else {
        1
    }
}

/// Order of results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchSort {
    /// Best match first (best sellers first when there is no `q`).
    #[default]
    Relevance,
    /// Cheapest first.
    PriceAsc,
    /// Dearest first.
    PriceDesc,
    /// Best sellers first.
    Popularity,
}

/// A validated search.
#[derive(Clone, Debug, Default)]
pub struct SearchRequest {
    /// What the shopper typed.
    pub q: String,
    /// Slugs from the root to the category to search in (its whole subtree).
    pub category_path: Option<Vec<String>>,
    /// Only this brand (exactly as the brand facet names it).
    pub brand: Option<String>,
    /// Lowest price, inclusive, minor units.
    pub min_price: Option<u64>,
    /// Highest price, inclusive, minor units.
    pub max_price: Option<u64>,
    /// Only products in stock (`true`) or out of stock (`false`).
    pub in_stock: Option<bool>,
    /// Order.
    pub sort: SearchSort,
    /// Page number, from 1.
    pub page: u32,
    /// Results per page.
    pub per_page: u32,
}

/// A search's words, each with how it may match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryWord {
    /// The token, as indexed.
    pub text: String,
    /// Edits allowed.
    pub distance: u8,
    /// Whether it may be the start of a longer word, and with how many edits.
    pub prefix: Option<u8>,
    /// Whether it may be left out (a stop word).
    pub optional: bool,
    /// Other words meaning the same (each alternative one or more tokens).
    pub synonyms: Vec<Vec<String>>,
}

/// Words that mean the same to a shopper: a word → the alternatives it
/// also finds, each one or more words. One-way: "hoover" finds vacuums,
/// "vacuum" does not find Hoover-branded products.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Synonyms(HashMap<String, Vec<Vec<String>>>);

/// The synonyms every store gets, for a DIY catalog in South African and
/// British English.
pub const DEFAULT_SYNONYMS: &str = "hoover=vacuum,vac=vacuum,spanner=wrench,wrench=spanner,faucet=tap|mixer,\
                                    tap=mixer,bbq=braai,barbecue=braai,hosepipe=hose,lawnmower=mower,\
                                    mower=lawnmower,flex=extension lead";

impl Synonyms {
    /// Parses `word=alt|alt,word=alt` (an alternative may be several words,
    /// a word may appear in several entries), analyzed like indexed text.
    pub fn parse(analyzer: &TextAnalyzer, spec: &str) -> Result<Self, String> {
        let mut map: HashMap<String, Vec<Vec<String>>> = HashMap::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((word, alternatives)) = entry.split_once('=') else {
                return Err(format!("synonym entry `{entry}` is not `word=alternative|alternative`"));
            };
            let word_tokens = tokens(analyzer, word);
            let [word] = word_tokens.as_slice() else {
                return Err(format!("synonym entry `{entry}`: the left side must be one word"));
            };
            for alternative in alternatives.split('|') {
                let alternative = tokens(analyzer, alternative);
                if alternative.is_empty() {
                    return Err(format!("synonym entry `{entry}` has an empty alternative"));
                }
                let list = map.entry(word.clone()).or_default();
                if !list.contains(&alternative) && alternative != [word.clone()] {
                    list.push(alternative);
                }
            }
        }
        Ok(Self(map))
    }

    /// The defaults, then `extra` on top.
    pub fn with_defaults(analyzer: &TextAnalyzer, extra: &str) -> Result<Self, String> {
        let mut synonyms = Self::parse(analyzer, DEFAULT_SYNONYMS)?;
        for (word, alternatives) in Self::parse(analyzer, extra)?.0 {
            let list = synonyms.0.entry(word).or_default();
            for alternative in alternatives {
                if !list.contains(&alternative) {
                    list.push(alternative);
                }
            }
        }
        Ok(synonyms)
    }

    /// What `word` also finds.
    pub fn of(&self, word: &str) -> &[Vec<String>] {
        self.0.get(word).map_or(&[], Vec::as_slice)
    }
}

/// The words of `q`, with how each may match.
pub fn words(analyzer: &TextAnalyzer, synonyms: &Synonyms, q: &str) -> Vec<QueryWord> {
    let tokens = tokens(analyzer, q);
    // Still typing the last word, unless a space (or a closing character)
    // says it is done.
    let typing = q.chars().last().is_some_and(char::is_alphanumeric);
    let last = tokens.len().saturating_sub(1);
    let mut out: Vec<QueryWord> = tokens
        .iter()
        .enumerate()
        .map(|(i, text)| QueryWord {
            distance: edit_distance(text),
            prefix: (typing && i == last && text.chars().count() >= 2).then(|| prefix_distance(text)),
            optional: STOP_WORDS.contains(&text.as_str()),
            synonyms: synonyms.of(text).to_vec(),
            text: text.clone(),
        })
        .collect();
    // A query of stop words alone still has to match them.
    if out.iter().all(|w| w.optional) {
        for word in &mut out {
            word.optional = false;
        }
    }
    out
}

fn boosted(query: impl Query, boost: Score) -> Box<dyn Query> {
    Box::new(BoostQuery::new(Box::new(query), boost))
}

/// The fields a word is looked for in, with their weights, and whether typo
/// and prefix matches apply (SKU parts are codes: exact or prefix only).
fn searched(fields: &Fields) -> [(tantivy::schema::Field, Score, bool, bool); 5] {
    [
        (fields.name, NAME_BOOST, true, true),
        (fields.brand_text, BRAND_BOOST, true, true),
        (fields.sku_text, SKU_BOOST, false, true),
        (fields.attributes, ATTRIBUTES_BOOST, true, true),
        // Prefixes of description words would match too much to mean anything.
        (fields.description, DESCRIPTION_BOOST, true, false),
    ]
}

/// One word in any searched field, exactly or as a typo or prefix.
fn word_query(fields: &Fields, word: &QueryWord) -> Box<dyn Query> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (field, boost, fuzzy, prefix) in searched(fields) {
        let term = Term::from_field_text(field, &word.text);
        clauses.push((
            Occur::Should,
            boosted(TermQuery::new(term.clone(), IndexRecordOption::WithFreqs), boost),
        ));
        if fuzzy && word.distance > 0 {
            clauses.push((
                Occur::Should,
                boosted(
                    FuzzyTermQuery::new(term.clone(), word.distance, true),
                    boost * FUZZY_SHARE,
                ),
            ));
        }
        if let (true, Some(distance)) = (prefix, word.prefix) {
            clauses.push((
                Occur::Should,
                boosted(FuzzyTermQuery::new_prefix(term, distance, true), boost * PREFIX_SHARE),
            ));
        }
    }
    for alternative in &word.synonyms {
        let words: Vec<(Occur, Box<dyn Query>)> = alternative
            .iter()
            .map(|text| {
                let any_field: Vec<(Occur, Box<dyn Query>)> = searched(fields)
                    .into_iter()
                    .map(|(field, boost, _, _)| {
                        let term = Term::from_field_text(field, text);
                        (
                            Occur::Should,
                            boosted(
                                TermQuery::new(term, IndexRecordOption::WithFreqs),
                                boost * SYNONYM_SHARE,
                            ),
                        )
                    })
                    .collect();
                (Occur::Must, Box::new(BooleanQuery::new(any_field)) as Box<dyn Query>)
            })
            .collect();
        clauses.push((Occur::Should, Box::new(BooleanQuery::new(words))));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// The text part of the query, or `None` when `q` has no words.
pub fn text_query(fields: &Fields, words: &[QueryWord], q: &str) -> Option<Box<dyn Query>> {
    if words.is_empty() {
        return None;
    }
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = words
        .iter()
        .map(|word| {
            let occur = if word.optional { Occur::Should } else { Occur::Must };
            (occur, word_query(fields, word))
        })
        .collect();
    // A SKU typed whole ranks its product first.
    let whole = q.trim().to_lowercase();
    if !whole.is_empty() && !whole.contains(char::is_whitespace) {
        let term = Term::from_field_text(fields.sku_key, &whole);
        clauses.push((
            Occur::Should,
            boosted(TermQuery::new(term, IndexRecordOption::Basic), SKU_EXACT_BOOST),
        ));
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// The filters of `request`, each scoring nothing.
fn filters(fields: &Fields, request: &SearchRequest) -> Vec<Box<dyn Query>> {
    let mut out: Vec<Box<dyn Query>> = Vec::new();
    let exact = |field, text: &str| -> Box<dyn Query> {
        Box::new(TermQuery::new(
            Term::from_field_text(field, text),
            IndexRecordOption::Basic,
        ))
    };
    if let Some(slug) = request.category_path.as_ref().and_then(|p| p.last()) {
        out.push(exact(fields.category_slugs, slug));
    }
    if let Some(brand) = &request.brand {
        out.push(exact(fields.brand, brand));
    }
    if request.min_price.is_some() || request.max_price.is_some() {
        out.push(Box::new(RangeQuery::new(
            Bound::Included(Term::from_field_u64(fields.price_minor, request.min_price.unwrap_or(0))),
            Bound::Included(Term::from_field_u64(
                fields.price_minor,
                request.max_price.unwrap_or(u64::MAX),
            )),
        )));
    }
    if let Some(in_stock) = request.in_stock {
        out.push(Box::new(TermQuery::new(
            Term::from_field_u64(fields.in_stock, u64::from(in_stock)),
            IndexRecordOption::Basic,
        )));
    }
    out
}

/// The whole query: the words (or everything) under the filters.
pub fn build(fields: &Fields, words: &[QueryWord], request: &SearchRequest) -> Box<dyn Query> {
    let text = text_query(fields, words, &request.q).unwrap_or_else(|| Box::new(AllQuery));
    let filters = filters(fields, request);
    if filters.is_empty() {
        return text;
    }
    let mut clauses = vec![(Occur::Must, text)];
    clauses.extend(
        filters
            .into_iter()
            .map(|f| (Occur::Must, Box::new(ConstScoreQuery::new(f, 0.0)) as Box<dyn Query>)),
    );
    Box::new(BooleanQuery::new(clauses))
}

/// How many results share one value of a facet.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct FacetCount {
    /// The value: a category slug or a brand name.
    pub value: String,
    /// Results with it.
    pub count: u64,
}

/// How many results fall in a price range.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct PriceRangeCount {
    /// Lowest price in the range, inclusive, minor units.
    pub min_minor: u64,
    /// Upper edge, exclusive, minor units; `null` for the dearest range.
    pub max_minor: Option<u64>,
    /// Results in it.
    pub count: u64,
}

/// Counts over every result (not only the page), under every filter.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Facets {
    /// Sub-categories of the category searched in (the root categories
    /// without a `category` filter), most results first.
    pub categories: Vec<FacetCount>,
    /// Brands, most results first.
    pub brands: Vec<FacetCount>,
    /// Price ranges with at least one result, cheapest first.
    pub price_ranges: Vec<PriceRangeCount>,
    /// Results in stock.
    pub in_stock: u64,
}

/// A result's fields with the matched words wrapped in `<em>`, HTML-escaped.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Highlight {
    /// The name, whole.
    pub name: String,
    /// A passage of the description around the first match, if any word
    /// matched there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// One page of results.
#[derive(Clone, Debug, Default)]
pub struct SearchResults {
    /// Results matching, over every page.
    pub total: u64,
    /// This page, in order, each with its highlights.
    pub hits: Vec<(ProductSummary, Highlight)>,
    /// Counts over every result.
    pub facets: Facets,
}

/// Counts brands (by the fast column's term ordinals), price ranges and
/// stock over the matching documents.
struct Breakdown;

struct SegmentBreakdown {
    brand: Option<StrColumn>,
    brand_counts: Vec<u64>,
    price: Column<u64>,
    in_stock: Column<u64>,
    fruit: BreakdownFruit,
}

#[derive(Default)]
struct BreakdownFruit {
    total: u64,
    in_stock: u64,
    prices: Vec<u64>,
    brands: HashMap<String, u64>,
}

impl Collector for Breakdown {
    type Fruit = BreakdownFruit;
    type Child = SegmentBreakdown;

    fn for_segment(&self, _ord: u32, segment: &SegmentReader) -> tantivy::Result<SegmentBreakdown> {
        let fast = segment.fast_fields();
        let brand = fast.str("brand")?;
        let terms = brand.as_ref().map_or(0, |b| b.dictionary().num_terms());
        Ok(SegmentBreakdown {
            brand,
            brand_counts: vec![0; terms],
            price: fast.u64("price_minor")?,
            in_stock: fast.u64("in_stock")?,
            fruit: BreakdownFruit {
                prices: vec![0; PRICE_EDGES.len() + 1],
                ..BreakdownFruit::default()
            },
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<BreakdownFruit>) -> tantivy::Result<BreakdownFruit> {
        let mut out = BreakdownFruit {
            prices: vec![0; PRICE_EDGES.len() + 1],
            ..BreakdownFruit::default()
        };
        for fruit in fruits {
            out.total += fruit.total;
            out.in_stock += fruit.in_stock;
            for (sum, n) in out.prices.iter_mut().zip(fruit.prices) {
                *sum += n;
            }
            for (brand, n) in fruit.brands {
                *out.brands.entry(brand).or_default() += n;
            }
        }
        Ok(out)
    }
}

impl SegmentCollector for SegmentBreakdown {
    type Fruit = BreakdownFruit;

    fn collect(&mut self, doc: DocId, _score: Score) {
        self.fruit.total += 1;
        if let Some(price) = self.price.first(doc) {
            let bucket = PRICE_EDGES.partition_point(|&edge| edge <= price);
            self.fruit.prices[bucket] += 1;
        }
        if self.in_stock.first(doc) == Some(1) {
            self.fruit.in_stock += 1;
        }
        if let Some(ord) = self.brand.as_ref().and_then(|b| b.ords().first(doc))
            && let Some(count) = self.brand_counts.get_mut(ord as usize)
        {
            *count += 1;
        }
    }

    fn harvest(mut self) -> BreakdownFruit {
        if let Some(column) = &self.brand {
            let mut name = String::new();
            for (ord, &count) in self.brand_counts.iter().enumerate() {
                if count > 0 && column.ord_to_str(ord as u64, &mut name).unwrap_or(false) {
                    self.fruit.brands.insert(std::mem::take(&mut name), count);
                }
            }
        }
        self.fruit
    }
}

fn by_count_then_value(counts: impl IntoIterator<Item = (String, u64)>) -> Vec<FacetCount> {
    let mut out: Vec<FacetCount> = counts
        .into_iter()
        .map(|(value, count)| FacetCount { value, count })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    out
}

/// Runs `request` on `searcher`.
pub fn run(
    searcher: &tantivy::Searcher,
    fields: &Fields,
    analyzer: &TextAnalyzer,
    synonyms: &Synonyms,
    request: &SearchRequest,
) -> tantivy::Result<SearchResults> {
    let words = words(analyzer, synonyms, &request.q);
    let query = build(fields, &words, request);
    let offset = (request.page.max(1) - 1) as usize * request.per_page as usize;
    let limit = request.per_page.max(1) as usize;
    let top = TopDocs::with_limit(limit).and_offset(offset);

    let base = match &request.category_path {
        Some(path) => Facet::from_path(path.iter().map(String::as_str)),
        None => Facet::root(),
    };
    let mut categories = FacetCollector::for_field("category");
    categories.add_facet(base.clone());

    let scored = request.sort == SearchSort::Relevance && !words.is_empty();
    let (addresses, (category_counts, breakdown)): (Vec<DocAddress>, _) = if scored {
        let top = top.tweak_score(move |segment: &SegmentReader| {
            let popularity = segment.fast_fields().u64("popularity").ok();
            move |doc: DocId, score: Score| {
                let p = popularity.as_ref().and_then(|c| c.first(doc)).unwrap_or(0) as f32;
                let lift = (p.min(POPULARITY_SCALE) + 1.0).ln() / (POPULARITY_SCALE + 1.0).ln();
                score * (1.0 + POPULARITY_SHARE * lift)
            }
        });
        let (docs, rest) = searcher.search(&query, &(top, (categories, Breakdown)))?;
        (docs.into_iter().map(|(_, a)| a).collect(), rest)
    } else {
        let (field, order) = match request.sort {
            SearchSort::PriceAsc => ("price_minor", Order::Asc),
            SearchSort::PriceDesc => ("price_minor", Order::Desc),
            SearchSort::Relevance | SearchSort::Popularity => ("popularity", Order::Desc),
        };
        let top = top.order_by_fast_field::<u64>(field, order);
        let (docs, rest) = searcher.search(&query, &(top, (categories, Breakdown)))?;
        (docs.into_iter().map(|(_, a)| a).collect(), rest)
    };

    let mut hits = Vec::with_capacity(addresses.len());
    for address in addresses {
        let doc: TantivyDocument = searcher.doc(address)?;
        if let Some(hit) = summary(fields, &doc) {
            let highlight = highlight(fields, analyzer, &words, &doc);
            hits.push((hit, highlight));
        }
    }

    let categories = by_count_then_value(category_counts.get(base).filter_map(|(facet, count)| {
        let slug = facet.to_path().last().map(|s| (*s).to_owned())?;
        Some((slug, count))
    }));
    let mut price_ranges = Vec::new();
    for (i, &count) in breakdown.prices.iter().enumerate() {
        if count == 0 {
            continue;
        }
        price_ranges.push(PriceRangeCount {
            min_minor: if i == 0 { 0 } else { PRICE_EDGES[i - 1] },
            max_minor: PRICE_EDGES.get(i).copied(),
            count,
        });
    }
    Ok(SearchResults {
        total: breakdown.total,
        hits,
        facets: Facets {
            categories,
            brands: by_count_then_value(breakdown.brands),
            price_ranges,
            in_stock: breakdown.in_stock,
        },
    })
}

fn text_of<'a>(doc: &'a TantivyDocument, field: tantivy::schema::Field) -> &'a str {
    doc.get_first(field).and_then(|v| v.as_str()).unwrap_or_default()
}

/// The listing summary stored in `doc`.
fn summary(fields: &Fields, doc: &TantivyDocument) -> Option<ProductSummary> {
    let id: Uuid = text_of(doc, fields.id).parse().ok()?;
    let price = doc.get_first(fields.price_minor).and_then(|v| v.as_u64()).unwrap_or(0);
    let image = doc
        .get_first(fields.image)
        .and_then(|v| v.as_str())
        .and_then(|json| serde_json::from_str::<Image>(json).ok());
    Some(ProductSummary {
        id,
        sku: text_of(doc, fields.sku).to_owned(),
        name: text_of(doc, fields.name).to_owned(),
        brand: text_of(doc, fields.brand).to_owned(),
        category: text_of(doc, fields.category_leaf).to_owned(),
        price: Money::new(i64::try_from(price).unwrap_or(i64::MAX), text_of(doc, fields.currency)),
        in_stock: doc.get_first(fields.in_stock).and_then(|v| v.as_u64()) == Some(1),
        image,
    })
}

/// Edit distance with adjacent transpositions counted as one edit (optimal
/// string alignment), over characters.
pub fn osa_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// Whether indexed token `token` is what `word` matches.
fn matches(word: &QueryWord, token: &str) -> bool {
    if token == word.text || word.synonyms.iter().flatten().any(|s| s == token) {
        return true;
    }
    if word.distance > 0 && osa_distance(&word.text, token) <= usize::from(word.distance) {
        return true;
    }
    let Some(distance) = word.prefix else { return false };
    if token.starts_with(&word.text) {
        return true;
    }
    // A prefix of the token within `distance` edits of the word.
    let len = word.text.chars().count();
    let distance = usize::from(distance);
    (len.saturating_sub(distance)..=len + distance).any(|n| {
        let prefix: String = token.chars().take(n).collect();
        prefix.chars().count() == n && osa_distance(&word.text, &prefix) <= distance
    })
}

fn escape_html(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `text[window]` HTML-escaped with `marks` (byte ranges inside it) in `<em>`.
fn mark(text: &str, window: Range<usize>, marks: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(window.len() + marks.len() * 9);
    let mut at = window.start;
    for range in marks.iter().filter(|r| r.start >= window.start && r.end <= window.end) {
        escape_html(&text[at..range.start], &mut out);
        out.push_str("<em>");
        escape_html(&text[range.clone()], &mut out);
        out.push_str("</em>");
        at = range.end;
    }
    escape_html(&text[at..window.end], &mut out);
    out
}

/// Longest description passage shown, in bytes (about two lines).
const PASSAGE_BYTES: usize = 160;

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Highlights of `doc` for `words`.
fn highlight(fields: &Fields, analyzer: &TextAnalyzer, words: &[QueryWord], doc: &TantivyDocument) -> Highlight {
    let marks_in = |text: &str| -> Vec<Range<usize>> {
        tokens_with_offsets(analyzer, text)
            .into_iter()
            .filter(|(token, _)| words.iter().any(|w| matches(w, token)))
            .map(|(_, range)| range)
            .collect()
    };
    let name = text_of(doc, fields.name);
    let name_marks = marks_in(name);
    let description = text_of(doc, fields.description);
    let description_marks = marks_in(description);
    let passage = description_marks.first().map(|first| {
        // Start at the sentence or a little before the first match, so the
        // passage reads from a word boundary.
        let back = floor_char_boundary(description, first.start.saturating_sub(PASSAGE_BYTES / 4));
        let start = description[..first.start]
            .rfind(". ")
            .map(|i| i + 2)
            .filter(|&i| i >= back)
            .or_else(|| {
                description[back..first.start]
                    .find(' ')
                    .map(|i| back + i + 1)
                    .filter(|_| back > 0)
            })
            .unwrap_or(if back == 0 { 0 } else { back });
        let mut end = floor_char_boundary(description, start + PASSAGE_BYTES);
        if end < description.len() {
            end = description[..end].rfind(' ').filter(|&i| i > first.end).unwrap_or(end);
        }
        let mut out = String::new();
        if start > 0 {
            out.push('…');
        }
        out.push_str(&mark(description, start..end, &description_marks));
        if end < description.len() {
            out.push('…');
        }
        out
    });
    Highlight {
        name: mark(name, 0..name.len(), &name_marks),
        description: passage,
    }
}

/// The facet counts of a sub-category map, for tests.
#[cfg(test)]
fn as_map(counts: &[FacetCount]) -> std::collections::BTreeMap<&str, u64> {
    counts.iter().map(|c| (c.value.as_str(), c.count)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::schema::analyzer;

    fn word<'a>(words: &'a [QueryWord], text: &str) -> &'a QueryWord {
        words.iter().find(|w| w.text == text).expect("word present")
    }

    #[test]
    fn edit_distance_grows_with_length_and_spares_numbers() {
        assert_eq!(edit_distance("saw"), 0);
        assert_eq!(edit_distance("drill"), 1);
        assert_eq!(edit_distance("cordless"), 2);
        assert_eq!(edit_distance("18v"), 0);
        assert_eq!(edit_distance("p120"), 0);
    }

    #[test]
    fn only_a_last_word_still_being_typed_is_a_prefix() {
        let a = analyzer();
        let s = Synonyms::default();
        let typing = words(&a, &s, "drill cordl");
        assert_eq!(word(&typing, "cordl").prefix, Some(1));
        assert_eq!(word(&typing, "drill").prefix, None);
        let done = words(&a, &s, "drill cordl ");
        assert_eq!(word(&done, "cordl").prefix, None);
        assert_eq!(words(&a, &s, "c")[0].prefix, None, "one letter would match everything");
    }

    #[test]
    fn query_syntax_is_just_text() {
        let a = analyzer();
        let s = Synonyms::default();
        let texts: Vec<String> = words(&a, &s, "title:\"drill\" AND (saw* OR ~hammer^2)")
            .into_iter()
            .map(|w| w.text)
            .collect();
        assert_eq!(texts, vec!["title", "drill", "and", "saw", "or", "hammer", "2"]);
        assert!(words(&a, &s, "\"():*~^").is_empty());
    }

    #[test]
    fn stop_words_are_optional_unless_alone() {
        let a = analyzer();
        let s = Synonyms::default();
        let ws = words(&a, &s, "drill for masonry");
        assert!(word(&ws, "for").optional);
        assert!(!word(&ws, "drill").optional);
        assert!(!words(&a, &s, "the")[0].optional);
    }

    #[test]
    fn synonyms_parse_merge_and_refuse_garbage() {
        let a = analyzer();
        let s = Synonyms::with_defaults(&a, "Hoover=Dust Buster, tap=spigot").expect("parses");
        assert_eq!(
            s.of("hoover"),
            &[vec!["vacuum".to_owned()], vec!["dust".to_owned(), "buster".to_owned()]]
        );
        assert_eq!(s.of("tap"), &[vec!["mixer".to_owned()], vec!["spigot".to_owned()]]);
        assert!(Synonyms::parse(&a, "hoover").is_err());
        assert!(Synonyms::parse(&a, "two words=x").is_err());
        assert!(Synonyms::parse(&a, "x=").is_err());
    }

    #[test]
    fn osa_distance_counts_a_swap_as_one() {
        assert_eq!(osa_distance("drlil", "drill"), 1);
        assert_eq!(osa_distance("drill", "drill"), 0);
        assert_eq!(osa_distance("hamer", "hammer"), 1);
        assert_eq!(osa_distance("saw", "sew"), 1);
        assert_eq!(osa_distance("", "abc"), 3);
    }

    #[test]
    fn highlights_match_typos_prefixes_and_escape_html() {
        let a = analyzer();
        let s = Synonyms::default();
        let ws = words(&a, &s, "drlil cordl");
        assert!(matches(word(&ws, "drlil"), "drill"));
        assert!(matches(word(&ws, "cordl"), "cordless"));
        assert!(!matches(word(&ws, "drlil"), "driver"));
        let text = "<b>Cordless</b> Drill";
        let marks = vec![3..11, 16..21];
        assert_eq!(
            mark(text, 0..text.len(), &marks),
            "&lt;b&gt;<em>Cordless</em>&lt;/b&gt; <em>Drill</em>"
        );
    }

    #[test]
    fn facet_lists_put_the_biggest_first() {
        let counts = by_count_then_value([("b".to_owned(), 2), ("a".to_owned(), 2), ("c".to_owned(), 5)]);
        assert_eq!(counts[0].value, "c");
        assert_eq!(
            as_map(&counts),
            std::collections::BTreeMap::from([("a", 2), ("b", 2), ("c", 5)])
        );
        assert_eq!(counts[1].value, "a", "ties in name order");
    }
}
