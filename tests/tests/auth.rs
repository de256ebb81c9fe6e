//! Registration, login, and refresh-token rotation over HTTP.

use reqwest::StatusCode;
use serde_json::json;
use vitrine_tests::{Origin, both_backends};

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(o: &Origin) {
    let email = format!("rot-{}@example.test", uuid::Uuid::new_v4().simple());
    let password = "a long enough password";
    let reg = o
        .post(
            "/api/v1/auth/register",
            &json!({"email": email, "password": password, "name": "R"}),
        )
        .await;
    assert_eq!(reg.status, StatusCode::CREATED, "{:?}", reg.body);
    assert!(reg.body.get("password_hash").is_none());
    let login = o
        .post("/api/v1/auth/login", &json!({"email": email, "password": password}))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{:?}", login.body);
    assert_eq!(login.header("cache-control"), "private, no-store");
    let first = login.body["refresh_token"].as_str().unwrap().to_owned();

    let r1 = o.post("/api/v1/auth/refresh", &json!({"refresh_token": first})).await;
    assert_eq!(r1.status, StatusCode::OK, "{:?}", r1.body);
    let second = r1.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second, first);
    assert!(
        r1.body["access_token"]
            .as_str()
            .is_some_and(|t| t.split('.').count() == 3)
    );

    // The first token was used: presenting it again is a theft signal.
    let reuse = o.post("/api/v1/auth/refresh", &json!({"refresh_token": first})).await;
    assert_eq!(reuse.status, StatusCode::UNAUTHORIZED);
    // ...and the whole family is gone, including the legitimate newest token.
    let revoked = o.post("/api/v1/auth/refresh", &json!({"refresh_token": second})).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    // A fresh login starts a new family that works.
    let again = o
        .post("/api/v1/auth/login", &json!({"email": email, "password": password}))
        .await;
    let third = again.body["refresh_token"].as_str().unwrap();
    assert_eq!(
        o.post("/api/v1/auth/refresh", &json!({"refresh_token": third}))
            .await
            .status,
        StatusCode::OK
    );
}
both_backends!(refresh_rotation, refresh_tokens_rotate_and_reuse_revokes_the_family);

async fn bad_credentials_and_input_are_4xx(o: &Origin) {
    let email = format!("bad-{}@example.test", uuid::Uuid::new_v4().simple());
    let password = "a long enough password";
    o.post(
        "/api/v1/auth/register",
        &json!({"email": email, "password": password, "name": "B"}),
    )
    .await;
    let users = o.count("users").await;
    let wrong = o
        .post(
            "/api/v1/auth/login",
            &json!({"email": email, "password": "not the password"}),
        )
        .await;
    let unknown = o
        .post(
            "/api/v1/auth/login",
            &json!({"email": "nobody@example.test", "password": "whatever it is"}),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        wrong.body, unknown.body,
        "wrong password and unknown email look the same"
    );
    let dup = o
        .post(
            "/api/v1/auth/register",
            &json!({"email": email.to_uppercase(), "password": password, "name": "B"}),
        )
        .await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{:?}", dup.body);
    let cases = [
        json!({"email": "not-an-email", "password": password, "name": "B"}),
        json!({"email": "x@example.test", "password": "short", "name": "B"}),
        json!({"email": "x@example.test", "password": password, "name": ""}),
        json!({"email": "x@example.test", "password": password, "name": "B", "role": "super_admin"}),
        json!({"email": "' OR '1'='1", "password": password, "name": "B"}),
    ];
    for body in cases {
        let a = o.post("/api/v1/auth/register", &body).await;
        assert!(a.status.is_client_error(), "{body}: {}", a.status);
        assert!(!a.error_code().is_empty());
    }
    let garbage = o
        .post("/api/v1/auth/refresh", &json!({"refresh_token": "garbage"}))
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
    assert_eq!(o.count("users").await, users, "no refused registration wrote a user");
}
both_backends!(bad_credentials, bad_credentials_and_input_are_4xx);

async fn token_answers_are_never_stored_or_replayed(o: &Origin) {
    let email = format!("idem-{}@example.test", uuid::Uuid::new_v4().simple());
    let password = "a long enough password";
    o.post(
        "/api/v1/auth/register",
        &json!({"email": email, "password": password, "name": "I"}),
    )
    .await;
    let login = o
        .post("/api/v1/auth/login", &json!({"email": email, "password": password}))
        .await;
    let token = login.body["refresh_token"].as_str().unwrap().to_owned();
    let body = json!({"refresh_token": token});
    let key = [("idempotency-key", "same-key")];
    let first = o
        .send(reqwest::Method::POST, "/api/v1/auth/refresh", Some(&body), None, &key)
        .await;
    assert_eq!(first.status, StatusCode::OK);
    // The same request again is a reuse of a spent token, not a replay.
    let second = o
        .send(reqwest::Method::POST, "/api/v1/auth/refresh", Some(&body), None, &key)
        .await;
    assert_eq!(second.status, StatusCode::UNAUTHORIZED);
    assert!(second.header("idempotent-replayed").is_empty());
    let stored: i64 = vitrine_origin::with_db!(&o.state.db, pool => sqlx::query_scalar(
        "SELECT count(*) FROM idempotency_keys"
    ).fetch_one(pool).await)
    .unwrap();
    assert_eq!(stored, 0, "no token answer was kept");
}
both_backends!(token_answers_not_stored, token_answers_are_never_stored_or_replayed);
