//! The HTTP surface: routes of every module, the OpenAPI document generated
//! from them, operations endpoints, and the layers every request passes:
//! panic catcher → request id → trace → timeout → metrics → header limit →
//! body limit → edge signature → idempotency → relay wake-up → handler.

pub mod cache;
pub mod idempotency;
pub mod ops;
pub mod signature;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

/// The parts of the OpenAPI document that are not routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Vitrine origin API",
        description = "Catalog, carts, orders, authentication and administration of a Vitrine storefront. \
                       Every error answers `{\"error\": {\"code\", \"message\"}}`. Every mutating endpoint \
                       accepts `Idempotency-Key`."
    ),
    components(schemas(crate::error::ErrorBody, crate::money::Money)),
    modifiers(&BearerAuth),
    tags(
        (name = "catalog", description = "Products and categories; cacheable"),
        (name = "carts", description = "Carts; never cached"),
        (name = "orders", description = "Orders made from carts"),
        (name = "auth", description = "Registration, login, token refresh"),
        (name = "admin", description = "Store managers and super admins"),
        (name = "webhooks", description = "Signed calls from the ERP and payment providers"),
        (name = "internal", description = "For edges only: signed with `X-Vitrine-Edge-Signature`"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every API route with its OpenAPI description.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::catalog::http::routes())
        .merge(crate::search::http::routes())
        .merge(crate::stock::routes())
        .merge(crate::carts::http::routes())
        .merge(crate::orders::http::routes())
        .merge(crate::auth::http::routes())
        .merge(crate::admin::routes())
        .merge(crate::change_feed::http::routes())
        .merge(crate::sync::http::routes())
        .split_for_parts()
}

/// The OpenAPI document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().1
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    // Install the recorder before the first request, so none goes uncounted.
    ops::recorder();
    let (api, openapi) = api();
    let openapi = Arc::new(openapi);
    let request_id = HeaderName::from_static("x-request-id");
    let timeout = Duration::from_secs(state.config.request_timeout_secs);
    api.route(
        "/openapi.json",
        get(move || std::future::ready(axum::Json(openapi.clone()))),
    )
    .route("/healthz", get(ops::healthz))
    .route("/readyz", get(ops::readyz))
    .route("/metrics", get(ops::metrics))
    .fallback(not_found)
    .method_not_allowed_fallback(method_not_allowed)
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        crate::change_feed::http::wake_relay_after_writes,
    ))
    .layer(axum::middleware::from_fn_with_state(state.clone(), idempotency::layer))
    .layer(axum::middleware::from_fn_with_state(state.clone(), signature::layer))
    .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
    .layer(axum::middleware::from_fn_with_state(state.clone(), limit_headers))
    .layer(axum::middleware::from_fn_with_state(state.clone(), ops::track))
    .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
    .layer(TraceLayer::new_for_http())
    .layer(PropagateRequestIdLayer::new(request_id.clone()))
    .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
    .layer(CatchPanicLayer::custom(|_| {
        ApiError::Internal(anyhow::anyhow!("a handler panicked")).into_response()
    }))
    .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::NotFound("route".into())
}

async fn method_not_allowed() -> impl IntoResponse {
    let body = crate::error::ErrorBody {
        error: crate::error::ErrorDetail {
            code: "method_not_allowed".into(),
            message: "this method is not allowed on this path".into(),
            details: None,
        },
    };
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body))
}

/// Refuses requests whose headers (names and values) exceed the configured
/// limit, before any handler or database work.
async fn limit_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let size: usize = request.headers().iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if size > state.config.header_limit_bytes {
        return ApiError::HeadersTooLarge(format!(
            "request headers are larger than the limit of {} bytes",
            state.config.header_limit_bytes
        ))
        .into_response();
    }
    next.run(request).await
}
