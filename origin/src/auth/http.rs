//! Auth endpoints: register, login, refresh, logout. Every answer says
//! `Cache-Control: private, no-store`: tokens must never sit in a cache.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::Principal;
use super::service::{self, TokenPair, UserView};
use crate::carts::CartStore as _;
use crate::error::{ApiError, ErrorBody};
use crate::extract::Json;
use crate::http::cache::NO_STORE;
use crate::state::AppState;

/// Auth routes.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

fn no_store<T: Serialize>(status: StatusCode, body: &T) -> Response {
    (status, [(header::CACHE_CONTROL, NO_STORE)], axum::Json(body)).into_response()
}

/// A new shopper account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address; trimmed and lower-cased, at most 254 characters.
    #[schema(example = "ada@example.com")]
    pub email: String,
    /// 10 to 128 characters.
    #[schema(format = Password, min_length = 10, max_length = 128)]
    pub password: String,
    /// Display name, 1 to 100 characters.
    #[schema(example = "Ada Lovelace")]
    pub name: String,
}

/// Credentials, and the guest cart to bring along.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email address (case and surrounding spaces do not matter).
    pub email: String,
    /// Password.
    #[schema(format = Password)]
    pub password: String,
    /// A cart filled before logging in; it is merged into the user's cart.
    #[serde(default)]
    pub guest_cart_id: Option<Uuid>,
}

/// What a login answers: the tokens and the user's cart.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    /// Access and refresh tokens, and the user.
    #[serde(flatten)]
    pub tokens: TokenPair,
    /// The user's cart after merging the guest cart; `null` when the user has
    /// no cart, or the cart store could not be reached (the login still stands).
    pub cart_id: Option<Uuid>,
}

/// A refresh token to trade in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    pub refresh_token: String,
}

/// The session to end.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// Any refresh token of the session; the whole session is revoked.
    pub refresh_token: String,
}

/// Creates a shopper account. Log in afterwards to get tokens.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new account", body = UserView,
            headers(("Cache-Control" = String, description = "`private, no-store`"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "`email_taken`: an account with this email exists", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown or missing fields, or `invalid_email`, `invalid_password`, `invalid_name`", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn register(State(state): State<AppState>, Json(body): Json<RegisterRequest>) -> Result<Response, ApiError> {
    let user = service::register(&state.db, &body.email, &body.password, &body.name).await?;
    Ok(no_store(StatusCode::CREATED, &user.view()))
}

/// Exchanges email and password for an access token and a refresh token, and
/// merges a guest cart into the user's cart.
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Tokens, the user, and their cart", body = LoginResponse,
            headers(("Cache-Control" = String, description = "`private, no-store`"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Invalid email or password (the same answer for both, and for a disabled account)", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown or missing fields", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn login(State(state): State<AppState>, Json(body): Json<LoginRequest>) -> Result<Response, ApiError> {
    let tokens = service::login(&state.db, &state.tokens, &state.config, &body.email, &body.password).await?;
    let principal = Principal {
        user_id: tokens.user.id,
        role: tokens.user.role,
    };
    let cart = match body.guest_cart_id {
        Some(guest) => crate::carts::merge_on_login(&state, guest, principal).await,
        None => state.carts.user_cart(principal.user_id).await,
    };
    // The credentials were good and the session exists: a cart store hiccup
    // must not turn that into a failed login. The client can find or start
    // its cart with `POST /api/v1/carts`.
    let cart_id = cart.unwrap_or_else(|e| {
        tracing::warn!(user_id = %principal.user_id, guest_cart_id = ?body.guest_cart_id, error = %e,
            "login succeeded but the user's cart could not be resolved");
        None
    });
    Ok(no_store(StatusCode::OK, &LoginResponse { tokens, cart_id }))
}

/// Trades a refresh token for a new pair. Each refresh token works once;
/// presenting a used one again revokes the whole session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair; the access token carries the user's current role", body = TokenPair,
            headers(("Cache-Control" = String, description = "`private, no-store`"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Unknown, expired or revoked token; a reused token also revokes its session; disabled account", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown or missing fields", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn refresh(State(state): State<AppState>, Json(body): Json<RefreshRequest>) -> Result<Response, ApiError> {
    let tokens = service::refresh(&state.db, &state.tokens, &state.config, &body.refresh_token).await?;
    Ok(no_store(StatusCode::OK, &tokens))
}

/// Ends the session a refresh token belongs to. Access tokens already issued
/// stay valid until they expire.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    request_body = LogoutRequest,
    responses(
        (status = 204, description = "The session is revoked (also answered for an unknown token)",
            headers(("Cache-Control" = String, description = "`private, no-store`"))),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over the size limit", body = ErrorBody),
        (status = 415, description = "Body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Unknown or missing fields", body = ErrorBody),
        (status = 503, description = "The database is unavailable; retry", body = ErrorBody),
    )
)]
async fn logout(State(state): State<AppState>, Json(body): Json<LogoutRequest>) -> Result<Response, ApiError> {
    service::logout(&state.db, &body.refresh_token).await?;
    Ok((StatusCode::NO_CONTENT, [(header::CACHE_CONTROL, NO_STORE)]).into_response())
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

    async fn app_with_state() -> (tempfile::TempDir, AppState, axum::Router) {
        let dir = tempfile::tempdir().unwrap();
        let state = AppState::connect(Config::embedded(dir.path()), true).await.unwrap();
        let (router, _) = routes().split_for_parts();
        (dir, state.clone(), router.with_state(state))
    }

    async fn app() -> (tempfile::TempDir, axum::Router) {
        let (dir, _, app) = app_with_state().await;
        (dir, app)
    }

    async fn post(app: &axum::Router, path: &str, body: Value) -> (StatusCode, Option<String>, Value) {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let cache = response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_owned());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, cache, json)
    }

    #[test]
    fn auth_and_user_admin_routes_are_documented() {
        let doc = serde_json::to_value(crate::http::openapi()).unwrap();
        for path in ["register", "login", "refresh", "logout"] {
            let op = &doc["paths"][format!("/api/v1/auth/{path}")]["post"];
            assert_eq!(op["tags"][0], "auth", "{path}");
            assert!(op["responses"].as_object().unwrap().len() >= 4, "{path}");
        }
        let login = &doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["200"];
        assert!(login["headers"]["Cache-Control"].is_object(), "{login}");
        let schemas = &doc["components"]["schemas"];
        for schema in ["LoginResponse", "TokenPair", "UserView", "LoginRequest"] {
            assert!(schemas[schema].is_object(), "{schema} missing");
        }
        let admin = &doc["paths"]["/admin/v1/users/{id}/role"]["put"];
        assert_eq!(admin["security"][0]["bearer"], json!([]));
    }

    #[tokio::test]
    async fn auth_flow_over_http() {
        let (_dir, app) = app().await;
        let credentials = json!({"email": "ada@example.com", "password": "correct horse battery"});
        let mut registration = credentials.clone();
        registration["name"] = json!("Ada");

        let (status, cache, user) = post(&app, "/api/v1/auth/register", registration).await;
        assert_eq!(status, StatusCode::CREATED, "{user}");
        assert_eq!(cache.as_deref(), Some(NO_STORE));
        assert_eq!(user["role"], "shopper");
        assert!(user.get("password_hash").is_none());

        let (status, cache, login) = post(&app, "/api/v1/auth/login", credentials).await;
        assert_eq!(status, StatusCode::OK, "{login}");
        assert_eq!(cache.as_deref(), Some(NO_STORE));
        assert_eq!(login["token_type"], "Bearer");
        assert_eq!(login["user"]["email"], "ada@example.com");
        assert_eq!(login["cart_id"], Value::Null);

        let token = login["refresh_token"].clone();
        let (status, cache, pair) = post(&app, "/api/v1/auth/refresh", json!({"refresh_token": token})).await;
        assert_eq!(status, StatusCode::OK, "{pair}");
        assert_eq!(cache.as_deref(), Some(NO_STORE));

        let (status, _, err) = post(&app, "/api/v1/auth/refresh", json!({"refresh_token": token})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(err["error"]["code"], "unauthorized");

        let (status, cache, _) = post(
            &app,
            "/api/v1/auth/logout",
            json!({"refresh_token": pair["refresh_token"]}),
        )
        .await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(cache.as_deref(), Some(NO_STORE));
    }

    #[tokio::test]
    async fn auth_bodies_refuse_unknown_fields_and_bad_logins_answer_401() {
        let (_dir, app) = app().await;
        let body =
            json!({"email": "a@example.com", "password": "correct horse battery", "name": "A", "role": "super_admin"});
        let (status, _, err) = post(&app, "/api/v1/auth/register", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{err}");
        assert_eq!(err["error"]["code"], "invalid_body");

        let (status, _, err) = post(
            &app,
            "/api/v1/auth/login",
            json!({"email": "x@example.com", "password": "nope"}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(err["error"]["message"], "invalid email or password");
    }

    #[tokio::test]
    async fn login_adopts_a_guest_cart_and_reports_it_later() {
        let (_dir, state, app) = app_with_state().await;
        let body = json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"});
        assert_eq!(post(&app, "/api/v1/auth/register", body).await.0, StatusCode::CREATED);

        // An unknown guest cart is ignored rather than failing the login.
        let login =
            json!({"email": "ada@example.com", "password": "correct horse battery", "guest_cart_id": Uuid::new_v4()});
        let (status, _, answer) = post(&app, "/api/v1/auth/login", login).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["cart_id"], Value::Null);

        // A real one becomes the user's cart...
        let guest = crate::carts::Cart::new(None, "ZAR");
        assert!(state.carts.save(&guest, 0).await.unwrap());
        let login = json!({"email": "ada@example.com", "password": "correct horse battery", "guest_cart_id": guest.id});
        let (status, _, answer) = post(&app, "/api/v1/auth/login", login).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["cart_id"], json!(guest.id));
        // ...and a later login without one returns it.
        let login = json!({"email": "ada@example.com", "password": "correct horse battery"});
        let (_, _, answer) = post(&app, "/api/v1/auth/login", login).await;
        assert_eq!(answer["cart_id"], json!(guest.id));
    }
}
