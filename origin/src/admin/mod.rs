//! The admin API under `/admin/v1`: every handler checks the caller's role
//! against [`crate::auth::Role::may`] before it touches anything.
//!
//! | area | permission | roles |
//! |---|---|---|
//! | stock and price edits | `EditCatalog` | store_manager, super_admin |
//! | orders, status moves | `ManageOrders` | store_manager, super_admin |
//! | refund approval | `ApproveRefunds` | store_manager, super_admin |
//! | users and roles | `ManageUsers` | super_admin |

pub mod catalog;
pub mod orders;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Admin routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().merge(catalog::routes()).merge(orders::routes())
}
