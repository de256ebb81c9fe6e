//! Snapshot tests of config errors: each `tests/ui/<case>.toml` is an
//! operator config that must be refused, beside `<case>.err`, the exact
//! error text the operator sees (file, line, column, field, message).
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p vitrine-edge-config --test ui` rewrites
//! the `.err` files; review the diff before committing it.

#![allow(missing_docs)]

use std::path::Path;

use vitrine_edge_config::EdgeConfig;

/// The environment every case sees: fixed, so the snapshots are too.
fn env(name: &str) -> Option<String> {
    match name {
        "PLUGIN_DIR" => Some("fixtures".into()),
        _ => None,
    }
}

#[test]
fn every_bad_config_is_refused_with_its_snapshot_error() {
    let dir = Path::new("tests/ui");
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
    let mut cases: Vec<_> = std::fs::read_dir(dir)
        .expect("tests/ui")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 20, "the cases went missing: {cases:?}");
    let mut failures = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(case).expect("case");
        let got = match EdgeConfig::parse(case, &text, &env) {
            Ok(config) => format!("accepted: {config:?}"),
            Err(error) => format!("{error}\n"),
        };
        let snapshot = case.with_extension("err");
        if update {
            std::fs::write(&snapshot, &got).expect("writing snapshot");
            continue;
        }
        let want = std::fs::read_to_string(&snapshot).unwrap_or_default();
        if got != want {
            failures.push(format!("{}:\n  want: {want:?}\n  got:  {got:?}", case.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
