//! Admin API (being written).
use crate::state::AppState;
use utoipa_axum::router::OpenApiRouter;
/// Admin routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
