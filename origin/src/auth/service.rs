//! The auth domain: users, passwords, and the refresh-token life cycle, over
//! either database engine.
//!
//! Invariants this module keeps:
//! - a password is stored only as an argon2id PHC string, hashed off the async
//!   threads;
//! - a refresh token is stored only as the hex SHA-256 of its text, so a copy
//!   of the database yields no usable token;
//! - a refresh token is good for one refresh: claiming it is a single
//!   conditional `UPDATE`, so two concurrent refreshes with one token never
//!   both succeed, and presenting a used or revoked token revokes every token
//!   of its family (the chain descended from one login);
//! - a login fails the same way, in about the same time, whether the email is
//!   unknown or the password wrong;
//! - the last enabled super admin cannot be demoted or disabled, so the store
//!   always keeps someone able to manage users.

use std::sync::LazyLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{Permission, Principal, Role, TokenKeys};
use crate::config::Config;
use crate::db::{BeginWrite as _, Db, is_unique_violation, now_ms};
use crate::error::ApiError;
use crate::with_db;

/// Fewest characters in a password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Most characters in a password.
pub const MAX_PASSWORD_CHARS: usize = 128;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// Most characters in a display name.
pub const MAX_NAME_CHARS: usize = 100;
/// Random bytes in a refresh token.
const REFRESH_TOKEN_BYTES: usize = 32;
/// Length of a refresh token's base64url text (32 bytes, unpadded).
const REFRESH_TOKEN_LEN: usize = 43;

/// A user as the admin API shows it. The password hash never leaves this module.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// User id.
    pub id: Uuid,
    /// Normalised (trimmed, lower-case) email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Whether the user is barred from logging in and refreshing.
    pub disabled: bool,
    /// The customer's segments (`trade`, `vip`…), carried in their access
    /// token for the edge; set with `PUT /admin/v1/users/{id}/segments`.
    pub segments: Vec<String>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The public view.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
        }
    }
}

/// A user as the user and the token answers see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// User id.
    pub id: Uuid,
    /// Normalised email address.
    pub email: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
}

/// What a login or a refresh answers.
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque token for `POST /api/v1/auth/refresh`; good for one refresh.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Who the tokens are for.
    pub user: UserView,
}

impl std::fmt::Debug for TokenPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenPair")
            .field("access_token", &"..")
            .field("refresh_token", &"..")
            .field("expires_in", &self.expires_in)
            .field("user", &self.user)
            .finish()
    }
}

/// One page of users.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    /// Users on this page, oldest first.
    pub users: Vec<User>,
    /// Users in all.
    pub total: i64,
    /// This page's number, from 1.
    pub page: u32,
    /// Page size.
    pub per_page: u32,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: Uuid,
    email: String,
    name: String,
    password_hash: String,
    role: String,
    disabled: bool,
    /// A JSON array of strings.
    segments: String,
    created_at: DateTime<Utc>,
}

impl UserRow {
    fn into_user(self) -> Result<User, ApiError> {
        Ok(User {
            role: parse_role(&self.role, self.id)?,
            id: self.id,
            email: self.email,
            name: self.name,
            disabled: self.disabled,
            segments: serde_json::from_str(&self.segments)
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("while reading user {}'s segments: {e}", self.id)))?,
            created_at: self.created_at,
        })
    }

    fn is_active_super_admin(&self) -> bool {
        self.role == Role::SuperAdmin.as_str() && !self.disabled
    }
}

fn parse_role(role: &str, user: Uuid) -> Result<Role, ApiError> {
    role.parse()
        .map_err(|e: String| ApiError::Internal(anyhow::anyhow!("while reading user {user}: {e}")))
}

const SELECT_USER_BY_ID: &str =
    "SELECT id, email, name, password_hash, role, disabled, segments, created_at FROM users WHERE id = $1";
const SELECT_USER_BY_EMAIL: &str =
    "SELECT id, email, name, password_hash, role, disabled, segments, created_at FROM users WHERE email = $1";
const INSERT_REFRESH_TOKEN: &str = "INSERT INTO refresh_tokens \
     (token_hash, family_id, user_id, issued_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4, $5)";
const REVOKE_FAMILY: &str =
    "UPDATE refresh_tokens SET revoked_at_ms = $2 WHERE family_id = $1 AND revoked_at_ms IS NULL";

// ---------------------------------------------------------------------------
// Validation

/// The normalised form of `raw` (trimmed, lower-case), if it looks like an
/// email address: one `@`, something before it, a dot inside the domain, no
/// spaces or control characters, at most 254 bytes. Deliverability is not
/// checked.
pub fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let well_formed = email.len() <= MAX_EMAIL_LEN
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
        });
    if well_formed {
        Ok(email)
    } else {
        Err(ApiError::unprocessable(
            "invalid_email",
            "email must look like name@example.com and be at most 254 characters",
        ))
    }
}

/// `Ok` if `password` is 10 to 128 characters. Passwords are taken as given:
/// no trimming, no composition rules (NIST SP 800-63B).
pub fn check_password(password: &str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        Ok(())
    } else {
        Err(ApiError::unprocessable(
            "invalid_password",
            format!("password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, got {chars}"),
        ))
    }
}

/// The trimmed `raw`, if it is 1 to 100 characters without control characters.
pub fn normalize_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if (1..=MAX_NAME_CHARS).contains(&chars) && !name.chars().any(char::is_control) {
        Ok(name.to_owned())
    } else {
        Err(ApiError::unprocessable(
            "invalid_name",
            format!("name must be 1 to {MAX_NAME_CHARS} characters without control characters"),
        ))
    }
}

// ---------------------------------------------------------------------------
// Passwords

fn hash_blocking(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error = %e, "stored password hash is not a PHC string");
            false
        }
    }
}

/// A hash of a password nobody knows, made with the same parameters as real
/// ones: verifying against it costs what verifying against a real hash costs.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    hash_blocking(&hex::encode(secret)).expect("hashing a fixed-length random password cannot fail")
});

/// The argon2id PHC string of `password`, computed on the blocking pool.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("while hashing a password")))?
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("while hashing a password: {e}")))
}

/// Whether `password` matches `hash`. With no hash (unknown user) it verifies
/// against [`DUMMY_HASH`] and answers `false`, taking as long as a real check.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || match hash {
        Some(hash) => verify_blocking(&password, &hash),
        None => {
            let _ = verify_blocking(&password, &DUMMY_HASH);
            false
        }
    })
    .await
    .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("while verifying a password")))
}

// ---------------------------------------------------------------------------
// Users

/// Registers a shopper. 422 for a malformed email, name or password; 409
/// `email_taken` if the (normalised) email already has an account.
pub async fn register(db: &Db, email: &str, password: &str, name: &str) -> Result<User, ApiError> {
    create_user(db, email, password, name, Role::Shopper).await
}

/// Creates a user with `role` (super admins creating staff, and the
/// `create-user` command). Same checks and errors as [`register`].
pub async fn create_user(db: &Db, email: &str, password: &str, name: &str, role: Role) -> Result<User, ApiError> {
    let email = normalize_email(email)?;
    let name = normalize_name(name)?;
    check_password(password)?;
    let password_hash = hash_password(password.to_owned()).await?;
    let user = User {
        id: Uuid::new_v4(),
        email,
        name,
        role,
        disabled: false,
        segments: Vec::new(),
        created_at: Utc::now(),
    };
    let inserted = with_db!(db, pool => sqlx::query(
        "INSERT INTO users (id, email, name, password_hash, role, disabled, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    )
    .bind(user.id)
    .bind(&user.email)
    .bind(&user.name)
    .bind(&password_hash)
    .bind(user.role.as_str())
    .bind(false)
    .bind(user.created_at)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()));
    match inserted {
        Ok(_) => {
            tracing::debug!(user_id = %user.id, role = user.role.as_str(), "user created");
            Ok(user)
        }
        Err(e) if is_unique_violation(&e) => Err(ApiError::conflict(
            "email_taken",
            "an account with this email already exists",
        )),
        Err(e) => Err(e.into()),
    }
}

/// The user with `id`, if any.
pub async fn user(db: &Db, id: Uuid) -> Result<Option<User>, ApiError> {
    let row: Option<UserRow> =
        with_db!(db, pool => sqlx::query_as(SELECT_USER_BY_ID).bind(id).fetch_optional(pool).await)?;
    row.map(UserRow::into_user).transpose()
}

/// Page `page` (from 1) of every user, `per_page` at a time, oldest first.
/// The caller bounds `per_page`.
pub async fn list_users(db: &Db, page: u32, per_page: u32) -> Result<UserPage, ApiError> {
    debug_assert!(page >= 1 && per_page >= 1, "pages and page sizes start at 1");
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);
    let (total, rows): (i64, Vec<UserRow>) = with_db!(db, pool => {
        let total: i64 = sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await?;
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT id, email, name, password_hash, role, disabled, segments, created_at FROM users \
             ORDER BY created_at, id LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(per_page))
        .bind(offset)
        .fetch_all(pool)
        .await?;
        (total, rows)
    });
    Ok(UserPage {
        users: rows.into_iter().map(UserRow::into_user).collect::<Result<_, _>>()?,
        total,
        page,
        per_page,
    })
}

/// Gives user `id` the role `role`. 404 for an unknown user; 409
/// `last_super_admin` if that would leave no enabled super admin. `actor` is
/// who asked, for the log.
pub async fn set_role(db: &Db, id: Uuid, role: Role, actor: Uuid) -> Result<User, ApiError> {
    let user = change_user(db, id, Some(role), None).await?;
    tracing::info!(%actor, user_id = %id, role = role.as_str(), "role changed");
    Ok(user)
}

/// Disables or re-enables user `id`. Disabling also revokes every refresh
/// token of theirs; access tokens already issued run out on their own (at
/// most the access-token lifetime). 404 for an unknown user; 409
/// `last_super_admin` if that would leave no enabled super admin.
pub async fn set_disabled(db: &Db, id: Uuid, disabled: bool, actor: Uuid) -> Result<User, ApiError> {
    let user = change_user(db, id, None, Some(disabled)).await?;
    tracing::info!(%actor, user_id = %id, disabled, "user access changed");
    Ok(user)
}

/// Most segments a customer carries (as many as the edge reads from a token).
pub const MAX_SEGMENTS: usize = 16;
/// Longest segment name, in bytes.
pub const MAX_SEGMENT_BYTES: usize = 64;

/// `segments` checked and normalised: trimmed, lower-cased, duplicates
/// dropped (the first kept), each 1 to [`MAX_SEGMENT_BYTES`] bytes of
/// `a-z`, `0-9`, `-` and `_`, at most [`MAX_SEGMENTS`] of them. 422
/// `invalid_segments` otherwise, naming the offender.
pub fn normalize_segments(segments: &[String]) -> Result<Vec<String>, ApiError> {
    let invalid = |message: String| ApiError::unprocessable("invalid_segments", message);
    let mut out: Vec<String> = Vec::with_capacity(segments.len());
    for (i, raw) in segments.iter().enumerate() {
        let segment = raw.trim().to_ascii_lowercase();
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
        if segment.is_empty() || segment.len() > MAX_SEGMENT_BYTES || !segment.bytes().all(allowed) {
            return Err(invalid(format!(
                "segments[{i}] must be 1 to {MAX_SEGMENT_BYTES} characters of a-z, 0-9, `-` and `_`"
            )));
        }
        if !out.contains(&segment) {
            out.push(segment);
        }
    }
    if out.len() > MAX_SEGMENTS {
        return Err(invalid(format!("at most {MAX_SEGMENTS} segments, not {}", out.len())));
    }
    Ok(out)
}

/// Replaces user `id`'s segments with `segments` (see
/// [`normalize_segments`]). They reach the user's access tokens at the next
/// login or refresh. 404 for an unknown user.
pub async fn set_segments(db: &Db, id: Uuid, segments: &[String], actor: Uuid) -> Result<User, ApiError> {
    let segments = normalize_segments(segments)?;
    let json = serde_json::to_string(&segments).map_err(|e| ApiError::Internal(e.into()))?;
    let updated = with_db!(db, pool => sqlx::query("UPDATE users SET segments = $1 WHERE id = $2")
        .bind(&json)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    if updated == 0 {
        return Err(ApiError::NotFound(format!("user {id}")));
    }
    tracing::info!(%actor, user_id = %id, ?segments, "segments changed");
    user(db, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {id}")))
}

async fn change_user(db: &Db, id: Uuid, role: Option<Role>, disabled: Option<bool>) -> Result<User, ApiError> {
    let now = now_ms();
    let row: UserRow = with_db!(db, pool => {
        let mut tx = pool.begin_write().await?;
        // Take the write lock of every super admin row first, so two
        // concurrent demotions of different super admins are serialised and
        // the second one sees the first (SQLite's BEGIN IMMEDIATE already
        // serialises writers; this is for Postgres).
        sqlx::query("UPDATE users SET role = role WHERE role = 'super_admin'")
            .execute(&mut *tx)
            .await?;
        let current: Option<UserRow> = sqlx::query_as(SELECT_USER_BY_ID).bind(id).fetch_optional(&mut *tx).await?;
        let Some(mut row) = current else {
            return Err(ApiError::NotFound(format!("user {id}")));
        };
        let new_role = role.map_or_else(|| row.role.clone(), |r| r.as_str().to_owned());
        let new_disabled = disabled.unwrap_or(row.disabled);
        let stays_active_admin = new_role == Role::SuperAdmin.as_str() && !new_disabled;
        if row.is_active_super_admin() && !stays_active_admin {
            let others: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM users WHERE role = 'super_admin' AND NOT disabled AND id <> $1",
            )
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if others == 0 {
                return Err(ApiError::conflict(
                    "last_super_admin",
                    "this is the last enabled super admin; make another user super admin first",
                ));
            }
        }
        sqlx::query("UPDATE users SET role = $1, disabled = $2 WHERE id = $3")
            .bind(&new_role)
            .bind(new_disabled)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if new_disabled && !row.disabled {
            sqlx::query("UPDATE refresh_tokens SET revoked_at_ms = $1 WHERE user_id = $2 AND revoked_at_ms IS NULL")
                .bind(now)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        row.role = new_role;
        row.disabled = new_disabled;
        row
    });
    row.into_user()
}

/// Re-checks `principal` against the database: the user must still exist,
/// be enabled, and hold `permission` in their current role. For endpoints too
/// sensitive to trust a role that may have changed since the access token was
/// issued. Call [`Principal::require`] first, so callers without the
/// permission in their token cost no query.
pub async fn require_current(db: &Db, principal: &Principal, permission: Permission) -> Result<(), ApiError> {
    let current: Option<(String, bool)> = with_db!(db, pool => sqlx::query_as(
        "SELECT role, disabled FROM users WHERE id = $1"
    ).bind(principal.user_id).fetch_optional(pool).await)?;
    let Some((role, disabled)) = current else {
        return Err(ApiError::Unauthorized("the user of this token no longer exists".into()));
    };
    if disabled {
        return Err(ApiError::Unauthorized("this account is disabled".into()));
    }
    Principal {
        user_id: principal.user_id,
        role: parse_role(&role, principal.user_id)?,
    }
    .require(permission)
}

// ---------------------------------------------------------------------------
// Tokens

fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized("invalid email or password".into())
}

fn invalid_refresh() -> ApiError {
    ApiError::Unauthorized("invalid or expired refresh token".into())
}

fn reused_refresh() -> ApiError {
    ApiError::Unauthorized(
        "refresh token was already used or revoked: reuse detected, the session is revoked; log in again".into(),
    )
}

/// A new refresh token and the hash it is stored under.
fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = refresh_token_hash(&token);
    (token, hash)
}

/// The hex SHA-256 a refresh token is stored under.
fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether `token` could be one of ours; anything else is refused without a query.
fn is_refresh_token_shaped(token: &str) -> bool {
    token.len() == REFRESH_TOKEN_LEN
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn refresh_ttl_ms(config: &Config) -> i64 {
    i64::try_from(config.refresh_token_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX / 4)
}

fn token_pair(keys: &TokenKeys, config: &Config, user: &User, refresh_token: String) -> Result<TokenPair, ApiError> {
    let principal = Principal {
        user_id: user.id,
        role: user.role,
    };
    let access_token = keys
        .issue_with_segments(principal, &user.segments, config.access_token_ttl())
        .map_err(|e| ApiError::Internal(e.context("while issuing an access token")))?;
    Ok(TokenPair {
        access_token,
        refresh_token,
        token_type: "Bearer".into(),
        expires_in: config.access_token_ttl_secs,
        user: user.view(),
    })
}

/// Checks `email` and `password` and starts a new token family. Unknown
/// email, wrong password and disabled account all answer the same 401.
pub async fn login(
    db: &Db,
    keys: &TokenKeys,
    config: &Config,
    email: &str,
    password: &str,
) -> Result<TokenPair, ApiError> {
    let email = email.trim().to_lowercase();
    let row: Option<UserRow> =
        with_db!(db, pool => sqlx::query_as(SELECT_USER_BY_EMAIL).bind(&email).fetch_optional(pool).await)?;
    let stored_hash = row.as_ref().map(|r| r.password_hash.clone());
    let matches = verify_password(password.to_owned(), stored_hash).await?;
    let user = match row {
        Some(row) if matches && !row.disabled => row.into_user()?,
        Some(row) if matches => {
            tracing::info!(user_id = %row.id, "login refused: account disabled");
            return Err(invalid_credentials());
        }
        _ => return Err(invalid_credentials()),
    };
    let (refresh_token, hash) = new_refresh_token();
    let family = Uuid::new_v4();
    let now = now_ms();
    let expires = now.saturating_add(refresh_ttl_ms(config));
    with_db!(db, pool => sqlx::query(INSERT_REFRESH_TOKEN)
        .bind(&hash)
        .bind(family)
        .bind(user.id)
        .bind(now)
        .bind(expires)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    tracing::debug!(user_id = %user.id, %family, "logged in");
    token_pair(keys, config, &user, refresh_token)
}

/// Trades refresh `token` for a new pair in the same family. The new access
/// token carries the user's current role. A token that was already used or
/// revoked revokes its whole family; an unknown or expired one is refused.
pub async fn refresh(db: &Db, keys: &TokenKeys, config: &Config, token: &str) -> Result<TokenPair, ApiError> {
    if !is_refresh_token_shaped(token) {
        return Err(invalid_refresh());
    }
    let presented = refresh_token_hash(token);
    let (next, next_hash) = new_refresh_token();
    let now = now_ms();
    let expires = now.saturating_add(refresh_ttl_ms(config));
    let row: UserRow = with_db!(db, pool => {
        let mut tx = pool.begin_write().await?;
        let claimed: Option<(Uuid, Uuid)> = sqlx::query_as(
            "UPDATE refresh_tokens SET used_at_ms = $2 WHERE token_hash = $1 AND used_at_ms IS NULL \
             AND revoked_at_ms IS NULL AND expires_at_ms > $2 RETURNING family_id, user_id",
        )
        .bind(&presented)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((family, user_id)) = claimed else {
            let spent: Option<(Uuid, Option<i64>, Option<i64>)> = sqlx::query_as(
                "SELECT family_id, used_at_ms, revoked_at_ms FROM refresh_tokens WHERE token_hash = $1",
            )
            .bind(&presented)
            .fetch_optional(&mut *tx)
            .await?;
            match spent {
                Some((family, used, revoked)) if used.is_some() || revoked.is_some() => {
                    let revoked_now = sqlx::query(REVOKE_FAMILY)
                        .bind(family)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    tracing::warn!(%family, revoked_now, "refresh token reused; token family revoked");
                    return Err(reused_refresh());
                }
                _ => return Err(invalid_refresh()),
            }
        };
        let user: Option<UserRow> = sqlx::query_as(SELECT_USER_BY_ID).bind(user_id).fetch_optional(&mut *tx).await?;
        let Some(user) = user.filter(|u| !u.disabled) else {
            sqlx::query(REVOKE_FAMILY).bind(family).bind(now).execute(&mut *tx).await?;
            tx.commit().await?;
            tracing::info!(%user_id, %family, "refresh refused: account disabled");
            return Err(ApiError::Unauthorized("this account is disabled".into()));
        };
        sqlx::query(INSERT_REFRESH_TOKEN)
            .bind(&next_hash)
            .bind(family)
            .bind(user_id)
            .bind(now)
            .bind(expires)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        user
    });
    token_pair(keys, config, &row.into_user()?, next)
}

/// Revokes the family of refresh `token` (the session it belongs to). An
/// unknown token is not an error: the session is gone either way.
pub async fn logout(db: &Db, token: &str) -> Result<(), ApiError> {
    if !is_refresh_token_shaped(token) {
        return Ok(());
    }
    let hash = refresh_token_hash(token);
    let now = now_ms();
    let revoked = with_db!(db, pool => sqlx::query(
        "UPDATE refresh_tokens SET revoked_at_ms = $2 WHERE revoked_at_ms IS NULL AND family_id = \
         (SELECT family_id FROM refresh_tokens WHERE token_hash = $1)"
    )
    .bind(&hash)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))?;
    tracing::debug!(revoked, "logged out");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "correct horse battery";

    struct Env {
        _dir: tempfile::TempDir,
        db: Db,
        keys: TokenKeys,
        config: Config,
    }

    async fn env() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&Db::embedded_url(dir.path()), 4).await.unwrap();
        db.migrate().await.unwrap();
        let config = Config::embedded(dir.path());
        Env {
            _dir: dir,
            db,
            keys: TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef"),
            config,
        }
    }

    impl Env {
        async fn login(&self, email: &str, password: &str) -> Result<TokenPair, ApiError> {
            login(&self.db, &self.keys, &self.config, email, password).await
        }

        async fn refresh(&self, token: &str) -> Result<TokenPair, ApiError> {
            refresh(&self.db, &self.keys, &self.config, token).await
        }
    }

    fn message(err: ApiError) -> (u16, String) {
        (err.status().as_u16(), err.to_string())
    }

    #[tokio::test]
    async fn register_then_login_works() {
        let env = env().await;
        let user = register(&env.db, "  Ada@Example.COM ", PASSWORD, " Ada ")
            .await
            .unwrap();
        assert_eq!(user.email, "ada@example.com");
        assert_eq!(user.name, "Ada");
        assert_eq!(user.role, Role::Shopper);
        assert!(!user.disabled);

        let pair = env.login("ADA@example.com", PASSWORD).await.unwrap();
        assert_eq!(pair.token_type, "Bearer");
        assert_eq!(pair.expires_in, env.config.access_token_ttl_secs);
        assert_eq!(pair.user, user.view());
        assert_eq!(pair.refresh_token.len(), REFRESH_TOKEN_LEN);
        let principal = env.keys.verify(&pair.access_token).unwrap();
        assert_eq!(principal.user_id, user.id);
        assert_eq!(principal.role, Role::Shopper);

        // Only the hash is stored.
        let stored: Vec<String> = with_db!(&env.db, pool => sqlx::query_scalar("SELECT token_hash FROM refresh_tokens")
            .fetch_all(pool).await)
        .unwrap();
        assert_eq!(stored, vec![refresh_token_hash(&pair.refresh_token)]);
        let hash: String = with_db!(&env.db, pool => sqlx::query_scalar("SELECT password_hash FROM users")
            .fetch_one(pool).await)
        .unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
    }

    #[tokio::test]
    async fn wrong_password_and_unknown_email_answer_alike() {
        let env = env().await;
        register(&env.db, "ada@example.com", PASSWORD, "Ada").await.unwrap();
        let wrong_password = message(env.login("ada@example.com", "not the password").await.unwrap_err());
        let unknown_email = message(env.login("bob@example.com", PASSWORD).await.unwrap_err());
        assert_eq!(wrong_password, unknown_email);
        assert_eq!(wrong_password, (401, "invalid email or password".to_owned()));
    }

    #[tokio::test]
    async fn disabled_users_can_neither_log_in_nor_refresh() {
        let env = env().await;
        let admin = create_user(&env.db, "root@example.com", PASSWORD, "Root", Role::SuperAdmin)
            .await
            .unwrap();
        let ada = register(&env.db, "ada@example.com", PASSWORD, "Ada").await.unwrap();
        let pair = env.login("ada@example.com", PASSWORD).await.unwrap();
        set_disabled(&env.db, ada.id, true, admin.id).await.unwrap();
        assert_eq!(
            message(env.login("ada@example.com", PASSWORD).await.unwrap_err()),
            (401, "invalid email or password".to_owned())
        );
        assert_eq!(
            env.refresh(&pair.refresh_token).await.unwrap_err().status().as_u16(),
            401
        );
        set_disabled(&env.db, ada.id, false, admin.id).await.unwrap();
        env.login("ada@example.com", PASSWORD).await.unwrap();
    }

    #[tokio::test]
    async fn refresh_rotates_and_refuses_the_used_token() {
        let env = env().await;
        register(&env.db, "ada@example.com", PASSWORD, "Ada").await.unwrap();
        let first = env.login("ada@example.com", PASSWORD).await.unwrap();
        let second = env.refresh(&first.refresh_token).await.unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_eq!(second.user, first.user);
        env.keys.verify(&second.access_token).unwrap();
        let third = env.refresh(&second.refresh_token).await.unwrap();
        assert_ne!(third.refresh_token, second.refresh_token);
        assert_eq!(
            env.refresh(&first.refresh_token).await.unwrap_err().status().as_u16(),
            401
        );
    }

    #[tokio::test]
    async fn reusing_a_refresh_token_revokes_its_family() {
        let env = env().await;
        register(&env.db, "ada@example.com", PASSWORD, "Ada").await.unwrap();
        let stolen = env.login("ada@example.com", PASSWORD).await.unwrap();
        let other_session = env.login("ada@example.com", PASSWORD).await.unwrap();
        let legit = env.refresh(&stolen.refresh_token).await.unwrap();

        let (status, text) = message(env.refresh(&stolen.refresh_token).await.unwrap_err());
        assert_eq!(status, 401);
        assert!(text.contains("reuse") && text.contains("revoked"), "{text}");

        // The newest token of the family is dead too...
        let (status, text) = message(env.refresh(&legit.refresh_token).await.unwrap_err());
        assert_eq!(status, 401);
        assert!(text.contains("revoked"), "{text}");
        // ...but another login's family is untouched.
        env.refresh(&other_session.refresh_token).await.unwrap();
    }

    #[tokio::test]
    async fn expired_refresh_token_is_refused() {
        let mut env = env().await;
        env.config.refresh_token_ttl_secs = 0;
        register(&env.db, "ada@example.com", PASSWORD, "Ada").await.unwrap();
        let pair = env.login("ada@example.com", PASSWORD).await.unwrap();
        let (status, text) = message(env.refresh(&pair.refresh_token).await.unwrap_err());
        assert_eq!((status, text.as_str()), (401, "invalid or expired refresh token"));
    }

    #[tokio::test]
    async fn unknown_and_malformed_refresh_tokens_are_refused() {
        let env = env().await;
        let (unknown, _) = new_refresh_token();
        for token in [unknown.as_str(), "", "short", &"x".repeat(10_000)] {
            let (status, text) = message(env.refresh(token).await.unwrap_err());
            assert_eq!(
                (status, text.as_str()),
                (401, "invalid or expired refresh token"),
                "{token:?}"
            );
        }
    }

    #[tokio::test]
    async fn logout_revokes_the_session() {
        let env = env().await;
        register(&env.db, "ada@example.com", PASSWORD, "Ada").await.unwrap();
        let first = env.login("ada@example.com", PASSWORD).await.unwrap();
        let second = env.refresh(&first.refresh_token).await.unwrap();
        logout(&env.db, &first.refresh_token).await.unwrap();
        assert_eq!(
            env.refresh(&second.refresh_token).await.unwrap_err().status().as_u16(),
            401
        );
        logout(&env.db, "not-a-token").await.unwrap();
    }

    #[tokio::test]
    async fn a_role_change_takes_effect_at_the_next_refresh() {
        let env = env().await;
        let admin = create_user(&env.db, "root@example.com", PASSWORD, "Root", Role::SuperAdmin)
            .await
            .unwrap();
        let ada = register(&env.db, "ada@example.com", PASSWORD, "Ada").await.unwrap();
        let pair = env.login("ada@example.com", PASSWORD).await.unwrap();
        let changed = set_role(&env.db, ada.id, Role::StoreManager, admin.id).await.unwrap();
        assert_eq!(changed.role, Role::StoreManager);
        let next = env.refresh(&pair.refresh_token).await.unwrap();
        assert_eq!(next.user.role, Role::StoreManager);
        assert_eq!(env.keys.verify(&next.access_token).unwrap().role, Role::StoreManager);
    }

    #[tokio::test]
    async fn the_last_super_admin_cannot_be_demoted_or_disabled() {
        let env = env().await;
        let root = create_user(&env.db, "root@example.com", PASSWORD, "Root", Role::SuperAdmin)
            .await
            .unwrap();
        for result in [
            set_role(&env.db, root.id, Role::StoreManager, root.id).await,
            set_disabled(&env.db, root.id, true, root.id).await,
        ] {
            match result.unwrap_err() {
                ApiError::Conflict { code, .. } => assert_eq!(code, "last_super_admin"),
                other => panic!("expected a conflict, got {other:?}"),
            }
        }
        assert_eq!(user(&env.db, root.id).await.unwrap().unwrap().role, Role::SuperAdmin);

        // With a second super admin, the first may step down.
        let second = register(&env.db, "second@example.com", PASSWORD, "Second")
            .await
            .unwrap();
        set_role(&env.db, second.id, Role::SuperAdmin, root.id).await.unwrap();
        set_role(&env.db, root.id, Role::Shopper, root.id).await.unwrap();
        assert!(set_role(&env.db, second.id, Role::Shopper, second.id).await.is_err());
    }

    #[tokio::test]
    async fn unknown_users_are_not_found() {
        let env = env().await;
        let err = set_role(&env.db, Uuid::new_v4(), Role::Shopper, Uuid::new_v4())
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 404);
    }

    #[tokio::test]
    async fn short_password_is_refused() {
        let env = env().await;
        let err = register(&env.db, "ada@example.com", "short", "Ada").await.unwrap_err();
        assert_eq!(err.code(), "invalid_password");
        assert_eq!(err.status().as_u16(), 422);
        assert!(check_password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
        assert!(check_password(&"é".repeat(MIN_PASSWORD_CHARS)).is_ok());
    }

    #[tokio::test]
    async fn duplicate_email_conflicts() {
        let env = env().await;
        register(&env.db, "ada@example.com", PASSWORD, "Ada").await.unwrap();
        let err = register(&env.db, " ADA@example.com", PASSWORD, "Ada again")
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 409);
        assert_eq!(err.code(), "email_taken");
    }

    #[tokio::test]
    async fn users_are_listed_in_pages() {
        let env = env().await;
        for i in 0..3 {
            register(&env.db, &format!("u{i}@example.com"), PASSWORD, "U")
                .await
                .unwrap();
        }
        let page = list_users(&env.db, 2, 2).await.unwrap();
        assert_eq!(page.total, 3);
        assert_eq!(page.users.len(), 1);
        assert_eq!(page.users[0].email, "u2@example.com");
    }

    #[test]
    fn emails_are_normalised_and_loosely_checked() {
        assert_eq!(normalize_email(" Ada@Example.com\n").unwrap(), "ada@example.com");
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "a@b@c.com",
            "ada@localhost",
            "a b@c.com",
            "a@.com",
            &long,
        ] {
            assert!(normalize_email(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_are_trimmed_and_checked() {
        assert_eq!(normalize_name("  Ada Lovelace ").unwrap(), "Ada Lovelace");
        for bad in ["", "   ", "a\u{0}b", "line\nbreak", &"n".repeat(MAX_NAME_CHARS + 1)] {
            assert!(normalize_name(bad).is_err(), "{bad:?}");
        }
    }
}
