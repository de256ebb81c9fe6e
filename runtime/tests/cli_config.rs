//! `vitrine config check`, as an operator runs it before deploying a config.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn check(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vitrine"))
        .args(["config", "check"])
        .arg(config)
        .output()
        .expect("running vitrine")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(component: &[u8], extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("good.wasm"), component).expect("component");
    std::fs::write(
        dir.path().join("good.toml"),
        "manifest_version = 1\nname = \"good\"\nversion = \"0.1.0\"\nworld = \"promotion\"\n\
         description = \"percent off every line\"\ncapabilities = [\"config\", \"log\"]\n\n[limits]\n\
         fuel = 10000000\nmemory_mb = 16\ndeadline_ms = 50\nmax_input_bytes = 262144\nmax_output_bytes = 262144\n",
    )
    .expect("manifest");
    std::fs::write(
        dir.path().join("vitrine.toml"),
        format!(
            "version = 1\n\n[plugins.spring-sale]\ncomponent = \"good.wasm\"\nmanifest = \"good.toml\"\n\
             grants = [\"config\"]\nconfig = {{ percent = \"10\" }}\n{extra}\n[[promotions]]\nplugin = \"spring-sale\"\nstacking = \"exclusive\"\n"
        ),
    )
    .expect("config");
    dir
}

#[test]
fn a_good_config_is_listed_with_its_grants_limits_and_stacking() {
    let dir = scratch(&common::guest("good"), "");
    let out = check(&dir.path().join("vitrine.toml"));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}{}", stdout, text(&out.stderr));
    assert!(stdout.contains(": ok, 1 plugin(s)"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.starts_with("spring-sale"))
        .expect("a row for the plugin");
    for cell in ["promotion", "config", "10000000", "16Mi", "50ms", "exclusive"] {
        assert!(row.contains(cell), "{cell} missing in {row:?}");
    }
}

#[test]
fn a_bad_config_exits_2_naming_file_line_and_field() {
    let dir = scratch(&common::guest("good"), "limits = { fuel = -1 }\n");
    let config = dir.path().join("vitrine.toml");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    let want = format!("{}:8:19: plugins.spring-sale.limits.fuel:", config.display());
    assert!(stderr.contains(&want), "want {want:?} in {stderr}");
}

#[test]
fn a_component_that_does_not_compile_fails_the_check() {
    let dir = scratch(b"\0asm but not really", "");
    let config = dir.path().join("vitrine.toml");
    let out = check(&config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("plugins.spring-sale.component"), "{stderr}");
    assert!(stderr.contains("compiling"), "{stderr}");
}
