//! `GET /api/v1/search`: cacheable by the edge for a short while.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::SearchError;
use super::query::{
    Facets, Highlight, MAX_PER_PAGE, MAX_QUERY_CHARS, MAX_QUERY_WORDS, MAX_RESULT_WINDOW, SearchRequest, SearchResults,
    SearchSort,
};
use crate::catalog::ProductSummary;
use crate::catalog::http::is_slug;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Query;
use crate::http::cache::{cacheable_json_with, search_cache_control};
use crate::state::AppState;
use crate::with_db;

/// Search routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(search))
}

/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 24;
/// Longest brand filter accepted.
const MAX_BRAND_CHARS: usize = 100;

/// What to search for, where, and in which order.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The shopper's words, up to 200 characters and 12 words. Typos are
    /// forgiven (more in longer words), the last word matches as a prefix
    /// unless followed by a space; empty or absent lists everything the
    /// filters let through.
    pub q: Option<String>,
    /// Only this category and its sub-categories (a slug).
    pub category: Option<String>,
    /// Only this brand, exactly as the `brands` facet names it.
    pub brand: Option<String>,
    /// Lowest price, inclusive, in minor units.
    #[param(value_type = Option<u64>)]
    pub min_price: Option<String>,
    /// Highest price, inclusive, in minor units.
    #[param(value_type = Option<u64>)]
    pub max_price: Option<String>,
    /// `true`: only products in stock; `false`: only those out of stock.
    #[param(value_type = Option<bool>)]
    pub in_stock: Option<String>,
    /// `relevance` (default), `price_asc`, `price_desc` or `popularity`.
    pub sort: Option<SearchSort>,
    /// Page number, from 1.
    #[param(value_type = Option<u32>)]
    pub page: Option<String>,
    /// Results per page, 1 to 100 (default 24); `page × per_page` at most 10 000.
    #[param(value_type = Option<u32>)]
    pub per_page: Option<String>,
}

/// `value` of parameter `name` as a whole number, or a 400 that names both.
/// (Numbers are parsed here rather than by the extractor, whose message
/// would not say which parameter was wrong.)
fn whole<T: std::str::FromStr>(name: &str, value: Option<&str>, what: &str) -> Result<Option<T>, ApiError> {
    value
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("{name} must be {what}, not `{}`", v.escape_debug()),
                )
            })
        })
        .transpose()
}

/// One page of search results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SearchPage {
    /// The words searched for, as received.
    pub q: String,
    /// Results over every page.
    pub total: u64,
    /// This page's number.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
    /// This page's products, best first (as a category listing shows them).
    pub products: Vec<ProductSummary>,
    /// By product id: its name and a description passage with the matched
    /// words in `<em>` (the rest HTML-escaped, so it can be inserted as HTML).
    pub highlights: BTreeMap<Uuid, Highlight>,
    /// Counts over every result, under every filter.
    pub facets: Facets,
}

impl SearchQuery {
    /// Checks the parameters and turns them into a request, with the
    /// category's path filled in from the database.
    async fn validate(self, state: &AppState) -> Result<SearchRequest, ApiError> {
        let bad = |message: String| ApiError::bad_request("invalid_query", message);
        let q = self.q.unwrap_or_default();
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(bad(format!("q is longer than {MAX_QUERY_CHARS} characters")));
        }
        if q.split_whitespace().count() > MAX_QUERY_WORDS {
            return Err(bad(format!("q has more than {MAX_QUERY_WORDS} words")));
        }
        let page: u32 = whole("page", self.page.as_deref(), "a page number from 1")?.unwrap_or(1);
        let per_page: Option<u32> = whole("per_page", self.per_page.as_deref(), "a whole number from 1 to 100")?;
        let min_price: Option<u64> = whole("min_price", self.min_price.as_deref(), "a whole number of minor units")?;
        let max_price: Option<u64> = whole("max_price", self.max_price.as_deref(), "a whole number of minor units")?;
        let in_stock: Option<bool> = whole("in_stock", self.in_stock.as_deref(), "`true` or `false`")?;
        if page == 0 {
            return Err(bad("page starts at 1".into()));
        }
        let per_page = per_page.unwrap_or(DEFAULT_PER_PAGE);
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            return Err(bad(format!("per_page must be between 1 and {MAX_PER_PAGE}")));
        }
        if u64::from(page) * u64::from(per_page) > u64::from(MAX_RESULT_WINDOW) {
            return Err(bad(format!(
                "page × per_page must be at most {MAX_RESULT_WINDOW}: narrow the search instead"
            )));
        }
        if let (Some(min), Some(max)) = (min_price, max_price)
            && min > max
        {
            return Err(bad(format!("min_price ({min}) is above max_price ({max})")));
        }
        if let Some(brand) = &self.brand
            && (brand.is_empty() || brand.chars().count() > MAX_BRAND_CHARS)
        {
            return Err(bad(format!("brand must be 1 to {MAX_BRAND_CHARS} characters")));
        }
        let category_path = match self.category {
            None => None,
            Some(slug) => {
                let not_found = || ApiError::NotFound(format!("category `{}`", slug.escape_debug()));
                if !is_slug(&slug) {
                    return Err(not_found());
                }
                let path: Option<String> = with_db!(&state.db, pool => sqlx::query_scalar(
                    "SELECT path FROM categories WHERE slug = $1"
                ).bind(&slug).fetch_optional(pool).await)?;
                Some(crate::catalog::split_path(&path.ok_or_else(not_found)?))
            }
        };
        Ok(SearchRequest {
            q,
            category_path,
            brand: self.brand,
            min_price,
            max_price,
            in_stock,
            sort: self.sort.unwrap_or_default(),
            page,
            per_page,
        })
    }
}

/// Unindexed changes read to decide whether an answer may be cached; a
/// longer backlog than this is waited for as a whole.
const PENDING_LIMIT: u32 = 1_000;

/// `Cache-Control` of an answer the index may be behind on.
pub const BEHIND_CACHE_CONTROL: &str = "public, max-age=0, s-maxage=1";

/// Runs `request` on the index, on a blocking thread.
async fn run_search(state: &AppState, request: &SearchRequest) -> Result<SearchResults, ApiError> {
    let index = state.search.clone();
    let request = request.clone();
    tokio::task::spawn_blocking(move || index.search(&request))
        .await
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("search thread failed: {e}")))?
        .map_err(|e| match e {
            SearchError::NotReady => ApiError::Unavailable("the search index is being built, retry shortly".into()),
            other => ApiError::Internal(anyhow::Error::new(other).context("while searching")),
        })
}

/// Searches the catalog.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "catalog",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of results with facets and highlights; cacheable for \
            `VITRINE_SEARCH_S_MAXAGE` seconds, tagged `search` (purged by price and catalog changes) and \
            `product:<id>` for every product shown (purged by any change to it); `s-maxage=1` when the \
            index is still behind the change feed after a few commits", body = SearchPage),
        (status = 304, description = "The client's `If-None-Match` matches"),
        (status = 400, description = "Unknown parameter, bad paging or sort, `min_price` above `max_price`, `q` too long", body = ErrorBody),
        (status = 404, description = "No such category", body = ErrorBody),
        (status = 503, description = "The search index is still being built", body = ErrorBody),
    )
)]
async fn search(
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = query.validate(&state).await?;
    // The edge purges a cached answer when a change names one of its keys
    // (`search`, `product:<id>`), and asks again; that answer must not come
    // from an index that has not seen the change yet, or the edge would keep
    // the old one for `search_s_maxage`. So after searching, look at the
    // changes the index does not hold yet: if one names a key of this
    // answer, wait for the index to take it in (it commits every
    // `search_commit_interval_ms`) and search again; if it does not within a
    // few commits, answer with a lifetime of one second: the edge then keeps
    // it that long at most (`no-store` would make it pass the query to the
    // origin for its hit-for-pass time instead).
    let catch_up = std::time::Duration::from_millis(state.config.search_commit_interval_ms.saturating_mul(5).max(500));
    let mut cacheable = true;
    let mut rounds = 0;
    let (results, keys) = loop {
        let indexed = state.search.searchable_seq();
        let results = run_search(&state, &request).await?;
        let mut keys = vec!["search".to_owned()];
        keys.extend(results.hits.iter().map(|(p, _)| format!("product:{}", p.id)));
        let pending = crate::change_feed::changes_after(&state.db, indexed, PENDING_LIMIT).await?;
        let newest_relevant = if pending.len() >= PENDING_LIMIT as usize {
            // Too far behind to tell: wait for all of it.
            pending.last().map(|c| c.seq)
        } else {
            pending
                .iter()
                .filter(|c| c.surrogate_keys.iter().any(|k| keys.contains(k)))
                .map(|c| c.seq)
                .max()
        };
        let Some(seq) = newest_relevant else {
            break (results, keys);
        };
        rounds += 1;
        if rounds > 2 || !state.search.wait_searchable(seq, catch_up).await {
            metrics::counter!("vitrine_search_uncacheable_total").increment(1);
            cacheable = false;
            break (results, keys);
        }
    };
    let mut highlights = BTreeMap::new();
    let mut products = Vec::with_capacity(results.hits.len());
    for (product, highlight) in results.hits {
        highlights.insert(product.id, highlight);
        products.push(product);
    }
    let body = SearchPage {
        q: request.q,
        total: results.total,
        page: request.page,
        per_page: request.per_page,
        products,
        highlights,
        facets: results.facets,
    };
    let cache_control = if cacheable {
        search_cache_control(&state.config)
    } else {
        BEHIND_CACHE_CONTROL.to_owned()
    };
    cacheable_json_with(&headers, &cache_control, &keys, &body)
}
