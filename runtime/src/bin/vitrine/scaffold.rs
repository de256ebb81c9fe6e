//! `vitrine plugin new`: a plugin crate that builds and tests on its own,
//! outside any workspace (its own `[workspace]`, `plugin` profile and guest
//! stack size).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use vitrine_runtime::plugins::World;
use vitrine_runtime::plugins::fixture;

const CARGO_TOML: &str = include_str!("templates/Cargo.toml.tmpl");
const CARGO_CONFIG: &str = include_str!("templates/cargo-config.toml");
const GITIGNORE: &str = include_str!("templates/gitignore");
const MANIFEST: &str = include_str!("templates/vitrine-plugin.toml.tmpl");

/// One world's files: `src/lib.rs`, its fixture and `tests/component.rs`.
struct WorldTemplate {
    lib: &'static str,
    fixture_name: &'static str,
    fixture: &'static str,
    component_test: &'static str,
    description: &'static str,
    capabilities: &'static str,
    deadline_ms: u32,
    max_output_bytes: u32,
}

fn template(world: World) -> WorldTemplate {
    match world {
        World::Promotion => WorldTemplate {
            lib: include_str!("templates/promotion/lib.rs"),
            fixture_name: "cart.json",
            fixture: include_str!("templates/promotion/fixture.json"),
            component_test: include_str!("templates/promotion/component.rs"),
            description: "10% (or `percent`) off every line",
            capabilities: r#"["config"]"#,
            deadline_ms: 20,
            max_output_bytes: 65_536,
        },
        World::Personalization => WorldTemplate {
            lib: include_str!("templates/personalization/lib.rs"),
            fixture_name: "page.json",
            fixture: include_str!("templates/personalization/fixture.json"),
            component_test: include_str!("templates/personalization/component.rs"),
            description: "In-stock products first; a badge on recently viewed categories",
            capabilities: "[]",
            deadline_ms: 10,
            max_output_bytes: 524_288,
        },
        World::Payment => WorldTemplate {
            lib: include_str!("templates/payment/lib.rs"),
            fixture_name: "authorize.json",
            fixture: include_str!("templates/payment/fixture.json"),
            component_test: include_str!("templates/payment/component.rs"),
            description: "A test-mode payment provider",
            capabilities: "[]",
            deadline_ms: 5_000,
            max_output_bytes: 65_536,
        },
    }
}

/// The `sdk/` of the Vitrine checkout this binary was built from, if it is
/// still there.
pub fn default_sdk() -> anyhow::Result<PathBuf> {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    match sdk.join("Cargo.toml").is_file() {
        true => Ok(sdk.canonicalize().unwrap_or(sdk)),
        false => bail!(
            "the Vitrine checkout this tool was built from ({}) has no sdk/; pass --sdk <path to vitrine/sdk>",
            sdk.display()
        ),
    }
}

/// Checks `name` (it becomes the package name and the manifest's `name`).
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!(
            "`{name}` is not a valid plugin name: use lowercase letters, digits and single `-`, \
             starting with a letter (at most 64 characters), e.g. `spring-sale`"
        );
    }
    Ok(())
}

/// `spring-sale` → `SpringSale`.
fn type_name(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Writes a `world` plugin crate named `name` into `dir`, depending on the
/// SDK at `sdk` (and, for the component tests, the runtime beside it).
pub fn new_plugin(world: World, name: &str, dir: &Path, sdk: &Path) -> anyhow::Result<()> {
    check_name(name)?;
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "{} already exists and is not empty; choose another --dir",
                dir.display()
            );
        }
    }
    let sdk = sdk
        .canonicalize()
        .with_context(|| format!("finding the SDK at {}", sdk.display()))?;
    if !sdk.join("wit/plugin.wit").is_file() {
        bail!("{} is not the Vitrine SDK (no wit/plugin.wit)", sdk.display());
    }
    let runtime = sdk.parent().map(|root| root.join("runtime")).unwrap_or_default();
    if !runtime.join("Cargo.toml").is_file() {
        bail!(
            "no Vitrine runtime beside the SDK (looked for {}); the component tests need it",
            runtime.display()
        );
    }

    let t = template(world);
    let world_name = fixture::world_name(world);
    let fill = |text: &str| {
        text.replace("{{name}}", name)
            .replace("{{type}}", &type_name(name))
            .replace("{{world}}", world_name)
            .replace("{{sdk}}", &toml_path(&sdk))
            .replace("{{runtime}}", &toml_path(&runtime))
            .replace("{{description}}", t.description)
            .replace("{{capabilities}}", t.capabilities)
            .replace("{{deadline_ms}}", &t.deadline_ms.to_string())
            .replace("{{max_output_bytes}}", &t.max_output_bytes.to_string())
    };
    let fixture_path = format!("fixtures/{}", t.fixture_name);
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        (".cargo/config.toml", CARGO_CONFIG.to_owned()),
        (".gitignore", GITIGNORE.to_owned()),
        ("vitrine-plugin.toml", fill(MANIFEST)),
        ("src/lib.rs", fill(t.lib)),
        (fixture_path.as_str(), t.fixture.to_owned()),
        ("tests/component.rs", fill(t.component_test)),
    ];
    for (path, contents) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, contents).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A path as a TOML basic string's contents.
fn toml_path(path: &Path) -> String {
    path.display().to_string().replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for good in ["spring-sale", "a", "promo2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Spring", "2promo", "spring_sale", "spring-", "a--b", "with space"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(type_name("spring-sale-2"), "SpringSale2");
    }
}
