//! Every admin endpoint against every role: the table below is the
//! specification, written out by hand rather than derived from the code.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use vitrine_origin::auth::Role;
use vitrine_tests::{Origin, both_backends};

const SM: Role = Role::StoreManager;
const SA: Role = Role::SuperAdmin;

struct Case {
    method: Method,
    path: String,
    template: &'static str,
    body: Option<Value>,
    allowed: &'static [Role],
}

async fn every_admin_endpoint_checks_every_role(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 50_000, 100).await;
    let cart = o.cart(None).await;
    o.add(cart, drill, 1, None).await;
    let order = o.post("/api/v1/orders", &json!({"cart_id": cart})).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (target_user, _) = o.user(Role::Shopper).await;
    let refund = Uuid::new_v4();
    let webhook = Uuid::new_v4();
    let cases = vec![
        Case {
            method: Method::PUT,
            path: format!("/admin/v1/products/{drill}/stock"),
            template: "/admin/v1/products/{id}/stock",
            body: Some(json!({"stock": 50})),
            allowed: &[SM, SA],
        },
        Case {
            method: Method::PUT,
            path: format!("/admin/v1/products/{drill}/price"),
            template: "/admin/v1/products/{id}/price",
            body: Some(json!({"amount_minor": 45_000})),
            allowed: &[SM, SA],
        },
        Case {
            method: Method::GET,
            path: "/admin/v1/orders".into(),
            template: "/admin/v1/orders",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::GET,
            path: format!("/admin/v1/orders/{order}"),
            template: "/admin/v1/orders/{id}",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::POST,
            path: format!("/admin/v1/orders/{order}/status"),
            template: "/admin/v1/orders/{id}/status",
            body: Some(json!({"status": "paid"})),
            allowed: &[SM, SA],
        },
        Case {
            method: Method::GET,
            path: "/admin/v1/refunds".into(),
            template: "/admin/v1/refunds",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::POST,
            path: format!("/admin/v1/refunds/{refund}/approve"),
            template: "/admin/v1/refunds/{id}/approve",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::POST,
            path: format!("/admin/v1/refunds/{refund}/reject"),
            template: "/admin/v1/refunds/{id}/reject",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::GET,
            path: "/admin/v1/sync/queue".into(),
            template: "/admin/v1/sync/queue",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::GET,
            path: "/admin/v1/sync/dead-letters".into(),
            template: "/admin/v1/sync/dead-letters",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::POST,
            path: format!("/admin/v1/sync/dead-letters/{}/redrive", Uuid::new_v4()),
            template: "/admin/v1/sync/dead-letters/{id}/redrive",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::POST,
            path: "/admin/v1/sync/dead-letters/redrive".into(),
            template: "/admin/v1/sync/dead-letters/redrive",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::GET,
            path: "/admin/v1/users".into(),
            template: "/admin/v1/users",
            body: None,
            allowed: &[SA],
        },
        Case {
            method: Method::POST,
            path: "/admin/v1/users".into(),
            template: "/admin/v1/users",
            body: Some(
                json!({"email": "new-staff@example.test", "password": "a long enough password", "name": "Staff", "role": "store_manager"}),
            ),
            allowed: &[SA],
        },
        Case {
            method: Method::PUT,
            path: format!("/admin/v1/users/{target_user}/role"),
            template: "/admin/v1/users/{id}/role",
            body: Some(json!({"role": "partner"})),
            allowed: &[SA],
        },
        Case {
            method: Method::PUT,
            path: format!("/admin/v1/users/{target_user}/disabled"),
            template: "/admin/v1/users/{id}/disabled",
            body: Some(json!({"disabled": false})),
            allowed: &[SA],
        },
        Case {
            method: Method::PUT,
            path: format!("/admin/v1/users/{target_user}/segments"),
            template: "/admin/v1/users/{id}/segments",
            body: Some(json!({"segments": ["trade"]})),
            allowed: &[SA],
        },
        Case {
            method: Method::GET,
            path: "/admin/v1/webhooks".into(),
            template: "/admin/v1/webhooks",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::POST,
            path: "/admin/v1/webhooks".into(),
            template: "/admin/v1/webhooks",
            body: Some(json!({"url": "https://hooks.example.test/vitrine", "events": ["order.*"]})),
            allowed: &[SM, SA],
        },
        Case {
            method: Method::GET,
            path: format!("/admin/v1/webhooks/{webhook}"),
            template: "/admin/v1/webhooks/{id}",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::DELETE,
            path: format!("/admin/v1/webhooks/{webhook}"),
            template: "/admin/v1/webhooks/{id}",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::GET,
            path: format!("/admin/v1/webhooks/{webhook}/deliveries"),
            template: "/admin/v1/webhooks/{id}/deliveries",
            body: None,
            allowed: &[SM, SA],
        },
        Case {
            method: Method::POST,
            path: format!("/admin/v1/webhooks/{webhook}/deliveries/{}/redeliver", Uuid::new_v4()),
            template: "/admin/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            body: None,
            allowed: &[SM, SA],
        },
    ];

    // The table covers every admin operation the API describes.
    let spec = vitrine_origin::http::openapi();
    let mut described: Vec<String> = Vec::new();
    for (path, item) in &spec.paths.paths {
        if !path.starts_with("/admin/") {
            continue;
        }
        let ops = [
            ("GET", &item.get),
            ("POST", &item.post),
            ("PUT", &item.put),
            ("PATCH", &item.patch),
            ("DELETE", &item.delete),
        ];
        for (m, op) in ops {
            if op.is_some() {
                described.push(format!("{m} {path}"));
            }
        }
    }
    let mut tabled: Vec<String> = cases.iter().map(|c| format!("{} {}", c.method, c.template)).collect();
    described.sort();
    tabled.sort();
    assert_eq!(described, tabled, "every admin endpoint has a row in the RBAC table");

    let mut tokens = Vec::new();
    for role in Role::ALL {
        tokens.push((role, o.user(role).await.1));
    }
    for case in &cases {
        let anonymous = o.call(case.method.clone(), &case.path, case.body.as_ref(), None).await;
        assert_eq!(
            anonymous.status,
            StatusCode::UNAUTHORIZED,
            "anonymous {} {}",
            case.method,
            case.path
        );
        for (role, token) in &tokens {
            let a = o
                .call(case.method.clone(), &case.path, case.body.as_ref(), Some(token))
                .await;
            let denied = matches!(a.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN);
            if case.allowed.contains(role) {
                assert!(
                    !denied && !a.status.is_server_error(),
                    "{role:?} {} {} → {} {:?}",
                    case.method,
                    case.path,
                    a.status,
                    a.body
                );
            } else {
                assert_eq!(
                    a.status,
                    StatusCode::FORBIDDEN,
                    "{role:?} {} {}: {:?}",
                    case.method,
                    case.path,
                    a.body
                );
                assert_eq!(a.error_code(), "forbidden");
            }
        }
    }
}
both_backends!(rbac_table, every_admin_endpoint_checks_every_role);

async fn denied_writes_change_nothing(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 50_000, 100).await;
    let (_, shopper) = o.user(Role::Shopper).await;
    let (_, partner) = o.user(Role::Partner).await;
    let before = o.catalog_fingerprint().await;
    for token in [&shopper, &partner] {
        o.call(
            Method::PUT,
            &format!("/admin/v1/products/{drill}/stock"),
            Some(&json!({"stock": 0})),
            Some(token),
        )
        .await;
        o.call(
            Method::PUT,
            &format!("/admin/v1/products/{drill}/price"),
            Some(&json!({"amount_minor": 1})),
            Some(token),
        )
        .await;
    }
    assert_eq!(o.catalog_fingerprint().await, before);
}
both_backends!(denied_writes, denied_writes_change_nothing);

async fn a_demoted_manager_loses_access_at_once(o: &Origin) {
    let drill = o.product(&["tools"], "Drill", 50_000, 100).await;
    let (manager_id, manager) = o.user(Role::StoreManager).await;
    let (_, admin) = o.user(Role::SuperAdmin).await;
    let path = format!("/admin/v1/products/{drill}/stock");
    let ok = o
        .call(Method::PUT, &path, Some(&json!({"stock": 10})), Some(&manager))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let demote = o
        .call(
            Method::PUT,
            &format!("/admin/v1/users/{manager_id}/role"),
            Some(&json!({"role": "shopper"})),
            Some(&admin),
        )
        .await;
    assert_eq!(demote.status, StatusCode::OK, "{:?}", demote.body);
    // The manager's access token still says store_manager; the database does not.
    let after = o
        .call(Method::PUT, &path, Some(&json!({"stock": 0})), Some(&manager))
        .await;
    assert_eq!(after.status, StatusCode::FORBIDDEN, "{:?}", after.body);
    assert_eq!(o.stock(drill).await, 10);
}
both_backends!(demoted_manager, a_demoted_manager_loses_access_at_once);
