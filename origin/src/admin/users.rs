//! User administration: list users, create staff, change roles, disable
//! accounts, set a customer's segments. Super admins only
//! ([`Permission::ManageUsers`]).
//!
//! Each handler checks the token's role before anything else, then checks the
//! caller's current role in the database too: a super admin demoted or
//! disabled a minute ago must not keep managing users until their access
//! token runs out.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::service::{self, User, UserPage, UserView};
use crate::auth::{Permission, Principal, Role};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::http::cache::NO_STORE;
use crate::state::AppState;

/// Largest page of users served.
pub const MAX_PER_PAGE: u32 = 100;
/// Page size when none is asked for.
pub const DEFAULT_PER_PAGE: u32 = 50;

/// User administration routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(set_role))
        .routes(routes!(set_disabled))
        .routes(routes!(set_segments))
}

fn no_store<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, [(header::CACHE_CONTROL, NO_STORE)], axum::Json(body)).into_response()
}

/// Paging of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsersQuery {
    /// Page number, from 1.
    pub page: Option<u32>,
    /// Users per page, 1 to 100 (default 50).
    pub per_page: Option<u32>,
}

/// A user made by a super admin.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// Email address; trimmed and lower-cased.
    pub email: String,
    /// 10 to 128 characters.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    pub password: String,
    /// Display name, 1 to 100 characters.
    pub name: String,
    /// Role of the new user.
    pub role: Role,
}

/// A new role.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRoleRequest {
    /// The role; takes effect at the user's next token refresh.
    pub role: Role,
}

/// Whether a user may log in.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetDisabledRequest {
    /// `true` bars the user from logging in and ends their sessions.
    pub disabled: bool,
}

/// A customer's segments.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSegmentsRequest {
    /// The whole new set (an empty list clears it): at most 16 names of 1
    /// to 64 characters of `a-z`, `0-9`, `-` and `_` (upper case is
    /// lowered, duplicates dropped). They reach the customer's access token
    /// (its `seg` claim, which the edge reads) at their next login or
    /// refresh.
    pub segments: Vec<String>,
}

/// Every user, oldest first.
#[utoipa::path(
    get,
    path = "/admin/v1/users",
    tag = "admin",
    security(("bearer" = [])),
    params(UsersQuery),
    responses(
        (status = 200, description = "A page of users", body = UserPage),
        (status = 400, description = "Bad paging", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller is not a super admin", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn list_users(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<UsersQuery>,
) -> Result<Response, ApiError> {
    super::authorize(&state, &principal, Permission::ManageUsers).await?;
    let page = query.page.unwrap_or(1);
    let per_page = query.per_page.unwrap_or(DEFAULT_PER_PAGE);
    if page == 0 {
        return Err(ApiError::bad_request("invalid_query", "page starts at 1"));
    }
    if !(1..=MAX_PER_PAGE).contains(&per_page) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("per_page must be between 1 and {MAX_PER_PAGE}"),
        ));
    }
    let users = service::list_users(&state.db, page, per_page).await?;
    Ok(no_store(StatusCode::OK, &users))
}

/// Creates a user with any role (staff accounts, partners).
#[utoipa::path(
    post,
    path = "/admin/v1/users",
    tag = "admin",
    security(("bearer" = [])),
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "The new user", body = UserView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller is not a super admin", body = ErrorBody),
        (status = 409, description = "`email_taken`: an account with this email exists", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown or missing fields, unknown role, or `invalid_email`, `invalid_password`, `invalid_name`", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn create_user(
    State(state): State<AppState>,
    principal: Principal,
    Json(body): Json<CreateUserRequest>,
) -> Result<Response, ApiError> {
    super::authorize(&state, &principal, Permission::ManageUsers).await?;
    let user = service::create_user(&state.db, &body.email, &body.password, &body.name, body.role).await?;
    tracing::info!(actor = %principal.user_id, user_id = %user.id, role = user.role.as_str(), "user created by admin");
    Ok(no_store(StatusCode::CREATED, &user.view()))
}

/// Changes a user's role. It reaches the user's tokens at their next refresh.
#[utoipa::path(
    put,
    path = "/admin/v1/users/{id}/role",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = SetRoleRequest,
    responses(
        (status = 200, description = "The user with the new role", body = UserView),
        (status = 400, description = "Malformed JSON or id", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller is not a super admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`last_super_admin`: this would leave no enabled super admin", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown role or fields", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn set_role(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<SetRoleRequest>,
) -> Result<Response, ApiError> {
    super::authorize(&state, &principal, Permission::ManageUsers).await?;
    let user = service::set_role(&state.db, id, body.role, principal.user_id).await?;
    Ok(no_store(StatusCode::OK, &user.view()))
}

/// Disables a user (refusing logins and revoking their sessions) or enables
/// them again.
#[utoipa::path(
    put,
    path = "/admin/v1/users/{id}/disabled",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = SetDisabledRequest,
    responses(
        (status = 200, description = "The user", body = User),
        (status = 400, description = "Malformed JSON or id", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller is not a super admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 409, description = "`last_super_admin`: this would leave no enabled super admin", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown or missing fields", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn set_disabled(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<SetDisabledRequest>,
) -> Result<Response, ApiError> {
    super::authorize(&state, &principal, Permission::ManageUsers).await?;
    let user = service::set_disabled(&state.db, id, body.disabled, principal.user_id).await?;
    Ok(no_store(StatusCode::OK, &user))
}

/// Sets a customer's segments (`trade`, `vip`…), which the edge uses to
/// personalize pages and price carts for them.
#[utoipa::path(
    put,
    path = "/admin/v1/users/{id}/segments",
    tag = "admin",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    request_body = SetSegmentsRequest,
    responses(
        (status = 200, description = "The user with the new segments", body = User),
        (status = 400, description = "Malformed JSON or id", body = ErrorBody),
        (status = 401, description = "No valid bearer token, or the caller's account is disabled", body = ErrorBody),
        (status = 403, description = "The caller is not a super admin", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown or missing fields, or `invalid_segments`", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn set_segments(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
    Json(body): Json<SetSegmentsRequest>,
) -> Result<Response, ApiError> {
    super::authorize(&state, &principal, Permission::ManageUsers).await?;
    let user = service::set_segments(&state.db, id, &body.segments, principal.user_id).await?;
    Ok(no_store(StatusCode::OK, &user))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt as _;
    use serde_json::{Value, json};
    use tower::ServiceExt as _;

    use super::*;
    use crate::config::Config;

    const PASSWORD: &str = "correct horse battery";

    struct Fixture {
        _dir: tempfile::TempDir,
        state: AppState,
        app: axum::Router,
    }

    async fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::connect(Config::embedded(dir.path()), true).await.unwrap();
        let (router, _) = routes().split_for_parts();
        Fixture {
            _dir: dir,
            app: router.with_state(state.clone()),
            state,
        }
    }

    impl Fixture {
        async fn user_token(&self, email: &str, role: Role) -> (Uuid, String) {
            let user = service::create_user(&self.state.db, email, PASSWORD, "Someone", role)
                .await
                .unwrap();
            let principal = Principal { user_id: user.id, role };
            let token = self
                .state
                .tokens
                .issue(principal, std::time::Duration::from_secs(60))
                .unwrap();
            (user.id, token)
        }

        async fn call(
            &self,
            method: &str,
            path: &str,
            token: Option<&str>,
            body: Option<Value>,
        ) -> (StatusCode, Value) {
            let mut request = Request::builder().method(method).uri(path);
            if let Some(token) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let request = match body {
                Some(body) => request
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.to_string())),
                None => request.body(Body::empty()),
            }
            .unwrap();
            let response = self.app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        }
    }

    #[tokio::test]
    async fn only_super_admins_reach_user_administration() {
        let fx = fixture().await;
        let (status, _) = fx.call("GET", "/admin/v1/users", None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        for role in [Role::Shopper, Role::StoreManager, Role::Partner] {
            let (_, token) = fx.user_token(&format!("{}@example.com", role.as_str()), role).await;
            let (status, body) = fx.call("GET", "/admin/v1/users", Some(&token), None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}: {body}");
            let create = json!({"email": "x@example.com", "password": PASSWORD, "name": "X", "role": "super_admin"});
            let (status, _) = fx.call("POST", "/admin/v1/users", Some(&token), Some(create)).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role:?}");
        }
        let listed = service::list_users(&fx.state.db, 1, 10).await.unwrap();
        assert!(listed.users.iter().all(|u| u.email != "x@example.com"));
    }

    #[tokio::test]
    async fn a_super_admin_creates_staff_and_changes_roles() {
        let fx = fixture().await;
        let (root, token) = fx.user_token("root@example.com", Role::SuperAdmin).await;

        let create =
            json!({"email": "Manager@Example.com", "password": PASSWORD, "name": "M", "role": "store_manager"});
        let (status, created) = fx.call("POST", "/admin/v1/users", Some(&token), Some(create)).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(created["role"], "store_manager");
        assert_eq!(created["email"], "manager@example.com");

        let (status, page) = fx
            .call("GET", "/admin/v1/users?per_page=1&page=2", Some(&token), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 2);
        assert_eq!(page["users"][0]["email"], "manager@example.com");
        let (status, _) = fx.call("GET", "/admin/v1/users?per_page=0", Some(&token), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);

        let path = format!("/admin/v1/users/{}/role", created["id"].as_str().unwrap());
        let (status, changed) = fx
            .call("PUT", &path, Some(&token), Some(json!({"role": "partner"})))
            .await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed["role"], "partner");

        let own = format!("/admin/v1/users/{root}/role");
        let (status, err) = fx
            .call("PUT", &own, Some(&token), Some(json!({"role": "shopper"})))
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(err["error"]["code"], "last_super_admin");

        let missing = format!("/admin/v1/users/{}/role", Uuid::new_v4());
        let (status, _) = fx
            .call("PUT", &missing, Some(&token), Some(json!({"role": "shopper"})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn a_demoted_super_admin_loses_access_before_their_token_expires() {
        let fx = fixture().await;
        let (_, first) = fx.user_token("first@example.com", Role::SuperAdmin).await;
        let (second, second_token) = fx.user_token("second@example.com", Role::SuperAdmin).await;
        let path = format!("/admin/v1/users/{second}/role");
        let (status, _) = fx
            .call("PUT", &path, Some(&first), Some(json!({"role": "shopper"})))
            .await;
        assert_eq!(status, StatusCode::OK);
        // The token still says super_admin; the database no longer does.
        let (status, _) = fx.call("GET", "/admin/v1/users", Some(&second_token), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }

    /// The claims of access token `token`, read without checking it.
    fn token_claims(token: &str) -> Value {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_super_admin_sets_segments_that_reach_the_next_token() {
        let fx = fixture().await;
        let (_, admin) = fx.user_token("root@example.com", Role::SuperAdmin).await;
        let (shopper, shopper_token) = fx.user_token("trade@example.com", Role::Shopper).await;
        let path = format!("/admin/v1/users/{shopper}/segments");

        let login = || {
            service::login(
                &fx.state.db,
                &fx.state.tokens,
                &fx.state.config,
                "trade@example.com",
                PASSWORD,
            )
        };
        let before = login().await.unwrap();
        assert!(
            token_claims(&before.access_token).get("seg").is_none(),
            "no segments, no claim"
        );

        let (status, _) = fx
            .call("PUT", &path, Some(&shopper_token), Some(json!({"segments": ["vip"]})))
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "a shopper does not set their own segments"
        );

        let (status, user) = fx
            .call(
                "PUT",
                &path,
                Some(&admin),
                Some(json!({"segments": [" Trade ", "vip", "trade"]})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{user}");
        assert_eq!(
            user["segments"],
            json!(["trade", "vip"]),
            "trimmed, lowered, deduplicated"
        );

        let after = login().await.unwrap();
        assert_eq!(token_claims(&after.access_token)["seg"], json!(["trade", "vip"]));
        let refreshed = service::refresh(&fx.state.db, &fx.state.tokens, &fx.state.config, &after.refresh_token)
            .await
            .unwrap();
        assert_eq!(token_claims(&refreshed.access_token)["seg"], json!(["trade", "vip"]));
        // The token still verifies at the origin.
        let principal = fx.state.tokens.verify(&refreshed.access_token).unwrap();
        assert_eq!(principal.user_id, shopper);

        for (bad, why) in [
            (
                json!({"segments": ["trade'; DROP TABLE users; --"]}),
                "injection string",
            ),
            (json!({"segments": [""]}), "empty name"),
            (json!({"segments": ["x".repeat(65)]}), "over 64 bytes"),
            (
                json!({"segments": (0..17).map(|i| format!("s{i}")).collect::<Vec<_>>()}),
                "17 segments",
            ),
        ] {
            let (status, err) = fx.call("PUT", &path, Some(&admin), Some(bad)).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{why}: {err}");
            assert_eq!(err["error"]["code"], "invalid_segments", "{why}");
        }
        let (status, _) = fx
            .call("PUT", &path, Some(&admin), Some(json!({"segments": ["a"], "extra": 1})))
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "unknown field");
        let kept = service::user(&fx.state.db, shopper).await.unwrap().unwrap();
        assert_eq!(kept.segments, ["trade", "vip"], "refused changes wrote nothing");

        let missing = format!("/admin/v1/users/{}/segments", Uuid::new_v4());
        let (status, _) = fx
            .call("PUT", &missing, Some(&admin), Some(json!({"segments": []})))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        let (status, cleared) = fx.call("PUT", &path, Some(&admin), Some(json!({"segments": []}))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(cleared["segments"], json!([]));
    }
}
