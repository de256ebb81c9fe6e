//! The index's schema, its text analyzer, and how a product becomes a document.

use std::collections::BTreeMap;

use tantivy::schema::{
    FAST, Facet, FacetOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions,
};
use tantivy::tokenizer::{AsciiFoldingFilter, LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer};
use tantivy::{Index, TantivyDocument};
use uuid::Uuid;

use crate::catalog::Image;

/// The name the analyzer is registered under in every index.
pub const ANALYZER: &str = "vitrine";

/// Tokens longer than this are dropped (they are not words a shopper types).
const MAX_TOKEN_LEN: usize = 40;

/// Words split on anything not alphanumeric, lowercased, accents folded
/// ("Crème" → "creme"), so what a shopper types meets what was indexed.
pub fn analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_LEN))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .build()
}

/// The tokens of `text`, as the index holds them.
pub fn tokens(analyzer: &TextAnalyzer, text: &str) -> Vec<String> {
    let mut analyzer = analyzer.clone();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        out.push(stream.token().text.clone());
    }
    out
}

/// The tokens of `text` with their byte ranges in `text`, for highlighting.
pub fn tokens_with_offsets(analyzer: &TextAnalyzer, text: &str) -> Vec<(String, std::ops::Range<usize>)> {
    let mut analyzer = analyzer.clone();
    let mut stream = analyzer.token_stream(text);
    let mut out = Vec::new();
    while stream.advance() {
        let token = stream.token();
        out.push((token.text.clone(), token.offset_from..token.offset_to));
    }
    out
}

/// Handles of every field.
#[derive(Clone, Copy, Debug)]
pub struct Fields {
    /// The product id, as text (deletes and updates go by it).
    pub id: Field,
    /// Display name: searched, stored.
    pub name: Field,
    /// Brand words: searched.
    pub brand_text: Field,
    /// Brand exactly: filter, facet counts (fast), stored.
    pub brand: Field,
    /// The SKU, stored as written.
    pub sku: Field,
    /// The whole SKU lowercased, one token: an exact SKU lookup.
    pub sku_key: Field,
    /// The SKU's parts (`vt`, `pnt`, `000123`): searched.
    pub sku_text: Field,
    /// Long description: searched, stored for snippets.
    pub description: Field,
    /// Attribute values (and the names of attributes that are true): searched.
    pub attributes: Field,
    /// The category path as a facet: `/tools/power-tools/drills`.
    pub category: Field,
    /// Every slug on the category path: the category filter takes a subtree.
    pub category_slugs: Field,
    /// The leaf category's slug, stored.
    pub category_leaf: Field,
    /// Price in minor units: range filter, sort, price-range counts.
    pub price_minor: Field,
    /// The currency code, stored.
    pub currency: Field,
    /// Best sellers score: sort, relevance tie-breaks.
    pub popularity: Field,
    /// 1 when at least one unit is in stock.
    pub in_stock: Field,
    /// The main image as JSON, stored.
    pub image: Field,
}

impl Fields {
    /// Looks every field up in `schema` (one this module built).
    pub fn of(schema: &Schema) -> tantivy::Result<Self> {
        let get = |name: &str| schema.get_field(name);
        Ok(Self {
            id: get("id")?,
            name: get("name")?,
            brand_text: get("brand_text")?,
            brand: get("brand")?,
            sku: get("sku")?,
            sku_key: get("sku_key")?,
            sku_text: get("sku_text")?,
            description: get("description")?,
            attributes: get("attributes")?,
            category: get("category")?,
            category_slugs: get("category_slugs")?,
            category_leaf: get("category_leaf")?,
            price_minor: get("price_minor")?,
            currency: get("currency")?,
            popularity: get("popularity")?,
            in_stock: get("in_stock")?,
            image: get("image")?,
        })
    }
}

/// The schema every index is created with.
pub fn schema() -> Schema {
    let text = |stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let mut builder = Schema::builder();
    builder.add_text_field("id", STRING | STORED);
    builder.add_text_field("name", text(true));
    builder.add_text_field("brand_text", text(false));
    builder.add_text_field("brand", STRING | FAST | STORED);
    builder.add_text_field("sku", STORED);
    builder.add_text_field("sku_key", STRING);
    builder.add_text_field("sku_text", text(false));
    builder.add_text_field("description", text(true));
    builder.add_text_field("attributes", text(false));
    builder.add_facet_field("category", FacetOptions::default());
    builder.add_text_field("category_slugs", STRING);
    builder.add_text_field("category_leaf", STORED);
    builder.add_u64_field("price_minor", INDEXED | FAST | STORED);
    builder.add_text_field("currency", STORED);
    builder.add_u64_field("popularity", FAST);
    builder.add_u64_field("in_stock", INDEXED | FAST | STORED);
    builder.add_text_field("image", STORED);
    builder.build()
}

/// Registers the analyzer on `index` (it is not persisted with the index).
pub fn register(index: &Index) {
    index.tokenizers().register(ANALYZER, analyzer());
}

/// A product as the indexer reads it from the database.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IndexedProduct {
    /// Stable id.
    pub id: Uuid,
    /// SKU.
    pub sku: String,
    /// Display name.
    pub name: String,
    /// Long description.
    pub description: String,
    /// Brand.
    pub brand: String,
    /// Leaf category slug.
    pub category_slug: String,
    /// `a/b/c/`.
    pub category_path: String,
    /// Named attributes.
    pub attributes: sqlx::types::Json<BTreeMap<String, serde_json::Value>>,
    /// Images, the first is the main one.
    pub images: sqlx::types::Json<Vec<Image>>,
    /// Price in minor units.
    pub price_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Units in stock.
    pub stock: i64,
    /// Best sellers score.
    pub popularity: i64,
}

/// The columns [`IndexedProduct`] reads, for `SELECT`s.
pub const PRODUCT_COLUMNS: &str = "id, sku, name, description, brand, category_slug, category_path, attributes, \
                                   images, price_minor, currency, stock, popularity";

/// Attribute values as searchable words: strings and numbers as they are,
/// and the name of every attribute that is `true` (`cordless`,
/// `brushless_motor` → "brushless motor").
fn attribute_words(attributes: &BTreeMap<String, serde_json::Value>) -> String {
    let mut out = String::new();
    for (key, value) in attributes {
        let word = match value {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::Bool(true) => key.replace('_', " "),
            _ => continue,
        };
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&word);
    }
    out
}

/// The document for `product`.
pub fn document(fields: &Fields, product: &IndexedProduct) -> TantivyDocument {
    let mut doc = TantivyDocument::new();
    doc.add_text(fields.id, product.id.to_string());
    doc.add_text(fields.name, &product.name);
    doc.add_text(fields.brand_text, &product.brand);
    doc.add_text(fields.brand, &product.brand);
    doc.add_text(fields.sku, &product.sku);
    doc.add_text(fields.sku_key, product.sku.to_lowercase());
    doc.add_text(fields.sku_text, &product.sku);
    doc.add_text(fields.description, &product.description);
    doc.add_text(fields.attributes, attribute_words(&product.attributes.0));
    let path = crate::catalog::split_path(&product.category_path);
    doc.add_facet(fields.category, Facet::from_path(path.iter().map(String::as_str)));
    for slug in &path {
        doc.add_text(fields.category_slugs, slug);
    }
    doc.add_text(fields.category_leaf, &product.category_slug);
    doc.add_u64(fields.price_minor, u64::try_from(product.price_minor).unwrap_or(0));
    doc.add_text(fields.currency, &product.currency);
    doc.add_u64(fields.popularity, u64::try_from(product.popularity).unwrap_or(0));
    doc.add_u64(fields.in_stock, u64::from(product.stock > 0));
    if let Some(image) = product.images.0.first()
        && let Ok(json) = serde_json::to_string(image)
    {
        doc.add_text(fields.image, json);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyzer_lowercases_folds_accents_and_splits_skus() {
        let a = analyzer();
        assert_eq!(tokens(&a, "Crème Brûlée 18V"), vec!["creme", "brulee", "18v"]);
        assert_eq!(tokens(&a, "VT-PNT-000123"), vec!["vt", "pnt", "000123"]);
    }

    #[test]
    fn true_attributes_become_words_and_false_ones_do_not() {
        let mut attributes = BTreeMap::new();
        attributes.insert("colour".to_owned(), serde_json::json!("white"));
        attributes.insert("voltage".to_owned(), serde_json::json!(18));
        attributes.insert("brushless_motor".to_owned(), serde_json::json!(true));
        attributes.insert("keyless_chuck".to_owned(), serde_json::json!(false));
        assert_eq!(attribute_words(&attributes), "brushless motor white 18");
    }
}
