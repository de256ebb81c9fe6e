//! Identities, roles and tokens.
//!
//! Passwords are hashed with argon2id. A login yields a short-lived JWT access
//! token (HS256) and an opaque refresh token. Refresh tokens rotate: each one
//! is good for exactly one refresh, and presenting one that was already used
//! revokes its whole family (everything descended from the same login), which
//! is how a stolen-and-replayed token is caught.
//!
//! What each role may do is decided in one table, [`Role::may`].

pub mod http;
pub mod service;

use std::str::FromStr;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

/// A user's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Buys things; sees only their own carts and orders.
    Shopper,
    /// Edits stock and prices, moves orders, approves refunds.
    StoreManager,
    /// Everything, including users and roles.
    SuperAdmin,
    /// A plugin partner: storefront access only; no admin API.
    Partner,
}

/// Something the admin API lets some roles do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Change stock counts and prices.
    EditCatalog,
    /// Read orders of any customer and move them through their states.
    ManageOrders,
    /// Approve or reject refund requests.
    ApproveRefunds,
    /// Create users and change roles.
    ManageUsers,
    /// Register outgoing webhook endpoints and read their delivery log.
    ManageWebhooks,
}

impl Role {
    /// Every role, for tables and tests.
    pub const ALL: [Role; 4] = [Role::Shopper, Role::StoreManager, Role::SuperAdmin, Role::Partner];

    /// Whether this role holds `permission`. The only RBAC table.
    pub fn may(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::SuperAdmin => true,
            Role::StoreManager => matches!(permission, EditCatalog | ManageOrders | ApproveRefunds | ManageWebhooks),
            Role::Shopper | Role::Partner => false,
        }
    }

    /// The name stored in the database and in tokens.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Shopper => "shopper",
            Role::StoreManager => "store_manager",
            Role::SuperAdmin => "super_admin",
            Role::Partner => "partner",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown role `{s}`: expected shopper, store_manager, super_admin or partner"))
    }
}

/// The authenticated caller of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The user's id.
    pub user_id: Uuid,
    /// The user's role when the token was issued.
    pub role: Role,
}

impl Principal {
    /// `Ok` if this principal holds `permission`, else 403.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.role.may(permission) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "role `{}` may not do this ({permission:?})",
                self.role.as_str()
            )))
        }
    }

    /// Whether this principal may see any customer's orders.
    pub fn is_staff(&self) -> bool {
        self.role.may(Permission::ManageOrders)
    }
}

/// Access token claims.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: Uuid,
    role: Role,
    iat: i64,
    exp: i64,
    iss: String,
    /// The customer's segments, for the edge (which reads this claim to
    /// personalize pages and price carts without asking the origin).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    seg: Vec<String>,
}

const ISSUER: &str = "vitrine-origin";

/// Signing and verification keys for access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

impl TokenKeys {
    /// Keys from an HMAC secret.
    pub fn from_secret(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    /// Issues an access token for `principal` valid for `ttl`.
    pub fn issue(&self, principal: Principal, ttl: std::time::Duration) -> anyhow::Result<String> {
        self.issue_with_segments(principal, &[], ttl)
    }

    /// Issues an access token for `principal` valid for `ttl`, carrying the
    /// customer's `segments` in its `seg` claim.
    pub fn issue_with_segments(
        &self,
        principal: Principal,
        segments: &[String],
        ttl: std::time::Duration,
    ) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: principal.user_id,
            role: principal.role,
            iat: now,
            exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            iss: ISSUER.into(),
            seg: segments.to_vec(),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The principal of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| ApiError::Unauthorized(format!("invalid access token: {e}")))?;
        Ok(Principal {
            user_id: data.claims.sub,
            role: data.claims.role,
        })
    }

    /// The principal named by a request's `Authorization: Bearer` header:
    /// `Ok(None)` without one, an error with an invalid one.
    pub fn from_headers(&self, headers: &axum::http::HeaderMap) -> Result<Option<Principal>, ApiError> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Ok(None);
        };
        let value = value
            .to_str()
            .map_err(|_| ApiError::Unauthorized("authorization header is not valid text".into()))?;
        let token = value
            .strip_prefix("Bearer ")
            .ok_or_else(|| ApiError::Unauthorized("expected `Authorization: Bearer <token>`".into()))?;
        self.verify(token.trim()).map(Some)
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        state
            .tokens
            .from_headers(&parts.headers)?
            .ok_or_else(|| ApiError::Unauthorized("this endpoint needs `Authorization: Bearer <token>`".into()))
    }
}

impl OptionalFromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Option<Self>, Self::Rejection> {
        state.tokens.from_headers(&parts.headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_super_admins_manage_users() {
        for role in Role::ALL {
            assert_eq!(role.may(Permission::ManageUsers), role == Role::SuperAdmin, "{role:?}");
        }
    }

    #[test]
    fn store_managers_and_super_admins_manage_webhooks() {
        for role in Role::ALL {
            let staff = matches!(role, Role::StoreManager | Role::SuperAdmin);
            assert_eq!(role.may(Permission::ManageWebhooks), staff, "{role:?}");
        }
    }

    #[test]
    fn tokens_round_trip_and_reject_other_keys() {
        let keys = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef");
        let who = Principal {
            user_id: Uuid::new_v4(),
            role: Role::StoreManager,
        };
        let token = keys.issue(who, std::time::Duration::from_secs(60)).unwrap();
        assert_eq!(keys.verify(&token).unwrap(), who);
        let other = TokenKeys::from_secret(b"another-secret-another-secret-xx");
        assert!(matches!(other.verify(&token), Err(ApiError::Unauthorized(_))));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let keys = TokenKeys::from_secret(b"0123456789abcdef0123456789abcdef");
        let claims = Claims {
            sub: Uuid::new_v4(),
            role: Role::Shopper,
            iat: 0,
            exp: chrono::Utc::now().timestamp() - 60,
            iss: ISSUER.into(),
            seg: Vec::new(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert!(keys.verify(&token).is_err());
    }
}
