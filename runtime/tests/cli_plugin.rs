//! `vitrine plugin new | build | run`, as a plugin author runs them: a
//! scaffold built standalone outside the workspace, then run on its fixture.
#![allow(clippy::unwrap_used)] // in tests a panic is the failure report

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn vitrine(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(args)
        .current_dir(dir)
        // Registry crates compiled once, shared by every run of this test.
        .env("CARGO_TARGET_DIR", shared_target())
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap()
}

fn shared_target() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-scaffolds")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn new_build_run_a_promotion() {
    let tmp = tempfile::tempdir().unwrap();
    let out = vitrine(&["plugin", "new", "promotion", "spring-sale"], tmp.path());
    assert!(out.status.success(), "new: {}", stderr(&out));
    let crate_dir = tmp.path().join("spring-sale");
    for file in [
        "Cargo.toml",
        ".cargo/config.toml",
        "vitrine-plugin.toml",
        "src/lib.rs",
        "fixtures/cart.json",
        "tests/component.rs",
    ] {
        assert!(crate_dir.join(file).is_file(), "{file} was not scaffolded");
    }

    let out = vitrine(&["plugin", "build", "--path", "spring-sale"], tmp.path());
    assert!(out.status.success(), "build: {}", stderr(&out));
    let printed = stdout(&out);
    let wasm = printed
        .lines()
        .find_map(|l| l.strip_prefix("component:"))
        .map(|p| PathBuf::from(p.trim()))
        .unwrap_or_else(|| panic!("no component path in: {printed}"));
    assert!(wasm.is_file(), "{}", wasm.display());
    assert!(printed.contains("world:     promotion"), "{printed}");
    let sha = printed.lines().find_map(|l| l.strip_prefix("sha256:")).unwrap().trim();
    assert_eq!(sha.len(), 64, "{printed}");
    let wasm = wasm.to_str().unwrap();

    // The scaffold's fixture: 10 % of 1 299.00 and of 3 × 3.33, rounded down.
    let run = vitrine(
        &[
            "plugin",
            "run",
            wasm,
            "--world",
            "promotion",
            "--input",
            "spring-sale/fixtures/cart.json",
        ],
        tmp.path(),
    );
    assert!(run.status.success(), "run: {}", stderr(&run));
    let adjustments: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(
        adjustments,
        serde_json::json!([
            {"level": "line", "line": 0, "line_id": "l1", "amount_minor": 12990, "reason": "10% off"},
            {"level": "line", "line": 1, "line_id": "l2", "amount_minor": 99, "reason": "10% off"},
        ])
    );
    assert!(stderr(&run).contains("fuel used: "), "{}", stderr(&run));

    // A setting, as the operator's config would give it.
    let run = vitrine(
        &[
            "plugin",
            "run",
            wasm,
            "--world",
            "promotion",
            "--input",
            "spring-sale/fixtures/cart.json",
            "--config",
            "percent=50",
        ],
        tmp.path(),
    );
    let adjustments: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(adjustments[0]["amount_minor"], 64950, "{}", stderr(&run));

    // The plugin's own typed error: exit 1.
    let run = vitrine(
        &[
            "plugin",
            "run",
            wasm,
            "--world",
            "promotion",
            "--input",
            "spring-sale/fixtures/cart.json",
            "--config",
            "percent=lots",
        ],
        tmp.path(),
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("error (guest_error): plugin `spring_sale` failed: configuration"),
        "{}",
        stderr(&run)
    );

    // Out of fuel: its own error.
    let run = vitrine(
        &[
            "plugin",
            "run",
            wasm,
            "--world",
            "promotion",
            "--input",
            "spring-sale/fixtures/cart.json",
            "--fuel",
            "500",
        ],
        tmp.path(),
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("used up its fuel budget of 500"),
        "{}",
        stderr(&run)
    );

    // A malformed fixture: the line and the field.
    std::fs::write(
        tmp.path().join("bad.json"),
        "{\n  \"currency\": \"ZAR\",\n  \"lines\": [\n    {\"id\": \"l1\", \"sku\": \"S\", \"unit_price_minor\": \"12.50\"}\n  ]\n}\n",
    )
    .unwrap();
    let run = vitrine(
        &["plugin", "run", wasm, "--world", "promotion", "--input", "bad.json"],
        tmp.path(),
    );
    assert_eq!(run.status.code(), Some(2));
    let error = stderr(&run);
    assert!(error.contains("bad.json: line 4, column"), "{error}");
    assert!(error.contains("at `lines[0].unit_price_minor`"), "{error}");
    assert!(
        error.contains("invalid type: string \"12.50\", expected i64"),
        "{error}"
    );

    // The right component as the wrong world.
    let run = vitrine(
        &[
            "plugin",
            "run",
            wasm,
            "--world",
            "personalization",
            "--input",
            "spring-sale/fixtures/cart.json",
        ],
        tmp.path(),
    );
    assert_eq!(run.status.code(), Some(2));
    // The cart is not a page: refused before loading anything.
    assert!(
        stderr(&run).contains("expected `page` or `context`"),
        "{}",
        stderr(&run)
    );
    std::fs::write(tmp.path().join("page.json"), r#"{"page": [], "context": {}}"#).unwrap();
    let run = vitrine(
        &[
            "plugin",
            "run",
            wasm,
            "--world",
            "personalization",
            "--input",
            "page.json",
        ],
        tmp.path(),
    );
    assert_eq!(run.status.code(), Some(2));
    assert!(
        stderr(&run).contains("as a personalization plugin") && stderr(&run).contains("Personalization world"),
        "{}",
        stderr(&run)
    );

    // `build` checks the manifest's world against the component.
    let manifest = crate_dir.join("vitrine-plugin.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, text.replace("world = \"promotion\"", "world = \"payment\"")).unwrap();
    let out = vitrine(&["plugin", "build", "--path", "spring-sale"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("does not implement the `payment` world"),
        "{}",
        stderr(&out)
    );
    std::fs::write(&manifest, text).unwrap();

    // ... and its size against the limit.
    let out = vitrine(
        &["plugin", "build", "--path", "spring-sale", "--max-size", "1"],
        tmp.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("over the limit of 1 KiB"), "{}", stderr(&out));
}

#[test]
fn new_refuses_bad_names_and_existing_dirs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = vitrine(&["plugin", "new", "promotion", "Spring_Sale"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("`Spring_Sale` is not a valid plugin name"),
        "{}",
        stderr(&out)
    );

    std::fs::create_dir(tmp.path().join("taken")).unwrap();
    std::fs::write(tmp.path().join("taken/notes.txt"), "mine").unwrap();
    let out = vitrine(&["plugin", "new", "payment", "taken"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already exists and is not empty"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("taken/notes.txt")).unwrap(),
        "mine"
    );

    let out = vitrine(&["plugin", "new", "checkout", "x"], tmp.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value 'checkout'"), "{}", stderr(&out));
}
