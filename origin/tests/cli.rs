//! The `vitrine-origin` binary as an operator runs it: `seed` then `serve` in
//! one data directory serve what was seeded; SIGTERM stops it cleanly; bad
//! settings are refused with a message that names them.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_vitrine-origin");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A minimal HTTP/1.1 GET, so this test needs no client crate.
fn get(port: u16, path: &str) -> Option<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?.parse().ok()?;
    Some((status, head.to_ascii_lowercase(), body.to_owned()))
}

fn wait_ready(port: u16) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if let Some((200, _, _)) = get(port, "/readyz") {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("origin on port {port} never became ready");
}

#[test]
fn seed_then_serve_in_one_data_dir_serves_the_seeded_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let seed = Command::new(BIN)
        .args(["seed", "--data-dir", data, "--products", "300"])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "seed failed: {}",
        String::from_utf8_lossy(&seed.stderr)
    );
    let report = String::from_utf8_lossy(&seed.stdout);
    assert!(report.contains("300"), "the report names what was created: {report}");

    let port = free_port();
    let mut serve = Command::new(BIN)
        .args(["serve", "--data-dir", data, "--listen", &format!("127.0.0.1:{port}")])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_ready(port);

    let (status, _, body) = get(port, "/api/v1/categories/tools/products?per_page=1").unwrap();
    assert_eq!(status, 200, "{body}");
    let listing: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        listing["total"].as_i64().unwrap() > 0,
        "seeded tools are served: {body}"
    );
    let id = listing["products"][0]["id"].as_str().unwrap().to_owned();
    let (status, head, body) = get(port, &format!("/api/v1/products/{id}")).unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(head.contains("cache-control: public, max-age=0, s-maxage="), "{head}");
    assert!(head.contains("etag: \""), "{head}");
    assert!(
        head.contains(&format!("surrogate-key: product:{id} category:")),
        "{head}"
    );

    // The first start built the search index from what was seeded.
    let search = "/api/v1/search?q=cordless%20drlil&per_page=1";
    let (status, _, body) = get(port, search).unwrap();
    assert_eq!(status, 200, "{body}");
    let found: serde_json::Value = serde_json::from_str(&body).unwrap();
    let total = found["total"].as_u64().unwrap();
    assert!(total > 0, "a typo still finds the seeded cordless drills: {body}");

    // `reindex` while it serves: a new generation, swapped in, same answers.
    let current = || std::fs::read_to_string(dir.path().join("search/CURRENT")).unwrap();
    let before = current();
    let reindex = Command::new(BIN)
        .args(["reindex", "--data-dir", data])
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .output()
        .unwrap();
    assert!(
        reindex.status.success(),
        "reindex failed: {}",
        String::from_utf8_lossy(&reindex.stderr)
    );
    let report = String::from_utf8_lossy(&reindex.stdout);
    assert!(report.contains("300 products"), "{report}");
    let after = current();
    assert_ne!(before, after, "CURRENT names the new generation");
    let start = Instant::now();
    while dir.path().join("search").join(before.trim()).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the server never let go of the old generation"
        );
        let (status, _, body) = get(port, search).unwrap();
        assert_eq!(status, 200, "search answers throughout: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, _, body) = get(port, search).unwrap();
    let again: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(again["total"].as_u64(), Some(total), "{body}");

    // SIGTERM: the process drains and exits successfully.
    let pid = serve.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "origin did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
    let logs: Vec<String> = BufReader::new(serve.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .collect();
    assert!(logs.iter().any(|l| l.contains("origin stopped")), "{logs:?}");
}

#[test]
fn bad_settings_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["serve", "--data-dir", data, "--database-url", "mysql://x/y"],
            "unsupported database url scheme `mysql`",
        ),
        (&["serve", "--data-dir", data, "--currency", "rand"], "currency `rand`"),
        (
            &["serve", "--data-dir", data, "--jwt-secret", "short"],
            "jwt secret must be at least 32 bytes",
        ),
        (
            &["serve", "--data-dir", data, "--search-synonyms", "hoover"],
            "VITRINE_SEARCH_SYNONYMS: synonym entry `hoover`",
        ),
    ];
    for (args, expected) in cases {
        let out = Command::new(BIN)
            .args(args)
            .env_remove("DATABASE_URL")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn migrate_applies_to_postgres_when_one_is_configured() {
    let Some(admin) = std::env::var("VITRINE_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        assert!(
            std::env::var("VITRINE_REQUIRE_SERVICES").is_err() && std::env::var("CI").is_err(),
            "VITRINE_TEST_DATABASE_URL must be set: run tests through `tests/run`"
        );
        eprintln!("SKIPPED: no Postgres configured (run `tests/run`)");
        return;
    };
    let name = format!("cli_{}", std::process::id());
    let created = Command::new("psql")
        .args([&admin, "-qc", &format!("CREATE DATABASE {name}")])
        .status()
        .unwrap();
    assert!(created.success());
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    for _ in 0..2 {
        let out = Command::new(BIN)
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let count = "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('products','orders','outbox')";
    let tables = Command::new("psql")
        .args([url.as_str(), "-tAc", count])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&tables.stdout).trim(), "3");
}
