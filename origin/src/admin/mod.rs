//! The admin API under `/admin/v1`: every handler calls [`authorize`] before
//! it touches anything; the roles each permission needs are decided in one
//! table, [`crate::auth::Role::may`].
//!
//! | area | permission | roles |
//! |---|---|---|
//! | stock and price edits | `EditCatalog` | store_manager, super_admin |
//! | orders, status moves | `ManageOrders` | store_manager, super_admin |
//! | refund approval | `ApproveRefunds` | store_manager, super_admin |
//! | users and roles | `ManageUsers` | super_admin |
//! | outgoing webhooks | `ManageWebhooks` | store_manager, super_admin |

pub mod catalog;
pub mod orders;
pub mod users;

use utoipa_axum::router::OpenApiRouter;

use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::state::AppState;

/// Checks that `principal` holds `permission`: first by the token's role (no
/// database work for a caller who is plainly not staff), then by the user's
/// current role and state, so a demoted or disabled admin loses access at
/// once rather than when their access token expires.
pub async fn authorize(state: &AppState, principal: &Principal, permission: Permission) -> Result<(), ApiError> {
    principal.require(permission)?;
    crate::auth::service::require_current(&state.db, principal, permission).await
}

/// Admin routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(catalog::routes())
        .merge(orders::routes())
        .merge(users::routes())
        .merge(crate::notifications::http::routes())
}
