//! Outbound http from a plugin to a granted host, against a bare loopback
//! server: what goes out, redirects, the response cap and the call's
//! deadline. (The `testpay` plugin against a provider double is in
//! `tests/tests/payments.rs`.)

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::guest;
use vitrine_runtime::plugins::types::{AuthorizeRequest, Money};
use vitrine_runtime::plugins::{
    EngineConfig, Grants, GuestError, HttpGrant, Limits, PaymentAnswer, PaymentCall, PluginError, PluginHost,
    PluginSpec, World,
};

/// Accepts one connection, reads the request head, answers `response`
/// (or, with `None`, holds the connection for 3 s without answering), and
/// returns the request head it read.
fn serve_once(response: Option<Vec<u8>>) -> (SocketAddr, JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("local addr");
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).expect("read the request");
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        match response {
            Some(response) => stream.write_all(&response).expect("answer"),
            None => std::thread::sleep(Duration::from_secs(3)),
        }
        String::from_utf8_lossy(&head).into_owned()
    });
    (addr, server)
}

/// The `fetch` guest (it POSTs to the URL in `payment-token` with an
/// `idempotency-key` header and answers `status-<code>`) granted `addr`.
fn host_granting(addr: SocketAddr, grant: HttpGrant, deadline: Duration) -> PluginHost {
    let host = PluginHost::new(EngineConfig::default(), None).expect("host");
    let grants = Grants {
        http: HttpGrant {
            hosts: vec![addr.to_string()],
            ..grant
        },
        ..Grants::default()
    };
    let limits = Limits {
        deadline,
        ..Limits::default()
    };
    let spec = PluginSpec::from_bytes("fetch", World::Payment, guest("fetch"))
        .with_grants(grants)
        .with_limits(limits);
    host.install(host.load(spec).expect("load"));
    host
}

fn authorize(url: &str) -> PaymentCall {
    PaymentCall::Authorize(AuthorizeRequest {
        idempotency_key: "idem-7".into(),
        order_reference: "order-7".into(),
        amount: Money {
            amount_minor: 1000,
            currency: "ZAR".into(),
        },
        payment_token: url.into(),
        customer_id: None,
    })
}

fn reference(answer: Result<PaymentAnswer, PluginError>) -> String {
    match answer {
        Ok(PaymentAnswer::Authorization(a)) => a.reference,
        other => panic!("expected an authorization, got {other:?}"),
    }
}

#[test]
fn a_granted_host_gets_the_guests_request_and_nothing_more() {
    let (addr, server) = serve_once(Some(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n".to_vec()));
    let host = host_granting(addr, HttpGrant::default(), Duration::from_secs(5));
    let answer = host.call_payment("fetch", &authorize(&format!("http://{addr}/v1/pay")));
    assert_eq!(reference(answer), "status-202");
    let head = server.join().expect("server thread").to_ascii_lowercase();
    assert!(head.starts_with("post /v1/pay http/1.1\r\n"), "{head}");
    assert!(head.contains("\r\nidempotency-key: idem-7\r\n"), "{head}");
    for ambient in ["user-agent", "cookie", "\r\naccept:", "accept-encoding", "proxy-"] {
        assert!(!head.contains(ambient), "`{ambient}` added by the host: {head}");
    }
}

#[test]
fn a_redirect_comes_back_as_is_and_is_not_followed() {
    let (addr, server) = serve_once(Some(
        b"HTTP/1.1 302 Found\r\nlocation: http://evil.example/steal\r\ncontent-length: 0\r\n\r\n".to_vec(),
    ));
    let host = host_granting(addr, HttpGrant::default(), Duration::from_secs(5));
    let answer = host.call_payment("fetch", &authorize(&format!("http://{addr}/v1/pay")));
    assert_eq!(reference(answer), "status-302");
    server.join().expect("server thread");
}

#[test]
fn an_answer_over_the_cap_is_too_large_even_without_a_length() {
    // Chunked, so the cap is enforced while reading, not from Content-Length.
    let chunk = "x".repeat(2048);
    let response = format!(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let (addr, server) = serve_once(Some(response.into_bytes()));
    let grant = HttpGrant {
        max_response_bytes: 1024,
        ..HttpGrant::default()
    };
    let host = host_granting(addr, grant, Duration::from_secs(5));
    let error = host
        .call_payment("fetch", &authorize(&format!("http://{addr}/v1/pay")))
        .expect_err("too large");
    assert!(
        matches!(&error, PluginError::Guest { error: GuestError::Unavailable(m), .. } if m == "too large"),
        "{error:?}"
    );
    server.join().expect("server thread");
}

#[test]
fn the_calls_deadline_bounds_the_wait_even_under_a_longer_grant_timeout() {
    let (addr, _server) = serve_once(None);
    let grant = HttpGrant {
        timeout: Duration::from_secs(10),
        ..HttpGrant::default()
    };
    let host = host_granting(addr, grant, Duration::from_millis(300));
    let started = Instant::now();
    let error = host
        .call_payment("fetch", &authorize(&format!("http://{addr}/v1/pay")))
        .expect_err("no answer in time");
    let took = started.elapsed();
    // Either the guest saw `timeout` and said so, or the epoch deadline
    // stopped it right after: both are failures, and neither waited 3 s.
    assert!(
        matches!(
            &error,
            PluginError::Deadline { .. }
                | PluginError::Guest {
                    error: GuestError::Unavailable(_),
                    ..
                }
        ),
        "{error:?}"
    );
    assert!(
        took < Duration::from_millis(1500),
        "waited {took:?} under a 300 ms deadline"
    );
}
