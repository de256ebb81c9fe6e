//! Order endpoints (being written).
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
/// Order routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
