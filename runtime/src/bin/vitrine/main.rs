//! `vitrine`: tools for plugin authors.
//!
//! - `vitrine plugin new <world> <name>`: a plugin crate that builds and
//!   tests standalone (trait impl, manifest, fixture, unit and component tests);
//! - `vitrine plugin build`: the Wasm component, checked against its
//!   manifest's world and a size limit;
//! - `vitrine plugin run <wasm> --world <w> --input <fixture.json>`: one call
//!   in the real host, with the answer as JSON, the fuel used and the time;
//! - `vitrine config check [config]`: the operator's config, checked as the
//!   edge checks it, and every plugin it installs compiled and linked.
//!
//! Exit codes: 0 success, 1 the plugin failed (its typed error is printed),
//! 2 bad usage or input (a malformed fixture, a component that does not
//! load, a failed build).

mod scaffold;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};
use vitrine_edge_config::EdgeConfig;
use vitrine_runtime::plugins::fixture;
use vitrine_runtime::plugins::{EngineConfig, Limits, PluginHost, World};
use vitrine_runtime::testing::{self, TestPlugin};

#[derive(Parser)]
#[command(name = "vitrine", about = "Tools for Vitrine plugin authors and operators")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Write, build and run plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Check the operator's config.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Checks an operator config as the edge would load it: the file, the
    /// manifests it names, and every component compiled and linked.
    Check {
        /// The config file.
        #[arg(default_value = "edge-config/vitrine.toml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum PluginCommand {
    /// Scaffolds a plugin crate that builds and tests standalone.
    New {
        /// The extension point it implements.
        world: WorldArg,
        /// The plugin's name: lowercase letters, digits and `-`, starting with a letter.
        name: String,
        /// Where to create it (default: ./<name>); must not exist or be empty.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The vitrine SDK to depend on (the `sdk/` folder of a Vitrine
        /// checkout); by default the checkout this tool was built from.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Builds the plugin's component and checks it against its manifest.
    Build {
        /// The plugin crate (default: the current directory).
        #[arg(long, default_value = ".")]
        path: PathBuf,
        /// Largest acceptable component, in KiB.
        #[arg(long, default_value_t = 256)]
        max_size: u64,
    },
    /// Runs one call of a component on a JSON fixture.
    Run {
        /// The component (`.wasm`).
        wasm: PathBuf,
        /// The world it implements.
        #[arg(long)]
        world: WorldArg,
        /// The call's input as JSON (see `vitrine_runtime::plugins::fixture`).
        #[arg(long)]
        input: PathBuf,
        /// A config value the operator would set, `name=value` (repeatable).
        #[arg(long = "config", value_parser = key_value)]
        config: Vec<(String, String)>,
        /// A secret the operator would grant, `name=value` (repeatable).
        #[arg(long = "secret", value_parser = key_value)]
        secrets: Vec<(String, String)>,
        /// The instruction budget.
        #[arg(long, default_value_t = Limits::default().fuel)]
        fuel: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum WorldArg {
    Promotion,
    Payment,
    Personalization,
}

impl From<WorldArg> for World {
    fn from(world: WorldArg) -> Self {
        match world {
            WorldArg::Promotion => World::Promotion,
            WorldArg::Payment => World::Payment,
            WorldArg::Personalization => World::Personalization,
        }
    }
}

fn key_value(arg: &str) -> Result<(String, String), String> {
    match arg.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{arg}` is not `name=value`")),
    }
}

/// A failure of the plugin itself (exit 1), as opposed to bad usage (exit 2).
#[derive(Debug)]
struct PluginFailed;

impl std::fmt::Display for PluginFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the plugin failed")
    }
}

impl std::error::Error for PluginFailed {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.is::<PluginFailed>() => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let command = match cli.command {
        Command::Plugin(command) => command,
        Command::Config(ConfigCommand::Check { config }) => return check_config(&config),
    };
    match command {
        PluginCommand::New { world, name, dir, sdk } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            let sdk = match sdk {
                Some(sdk) => sdk,
                None => scaffold::default_sdk()?,
            };
            scaffold::new_plugin(world.into(), &name, &dir, &sdk)?;
            println!(
                "created {} plugin `{name}` in {}",
                fixture::world_name(world.into()),
                dir.display()
            );
            println!("next: cd {} && cargo test && vitrine plugin build", dir.display());
            Ok(())
        }
        PluginCommand::Build { path, max_size } => build(path, max_size),
        PluginCommand::Run {
            wasm,
            world,
            input,
            config,
            secrets,
            fuel,
        } => run_one(wasm, world.into(), input, config, secrets, fuel),
    }
}

fn check_config(path: &std::path::Path) -> anyhow::Result<()> {
    let config = EdgeConfig::load(path)?;
    // Compiled without the artifact cache: a check writes nothing.
    let host = PluginHost::new(EngineConfig::from_config(&config.plugin_host), None)?;
    host.apply_config(&config)?;
    println!("{}: ok, {} plugin(s)", path.display(), config.plugins.len());
    println!(
        "{:<20} {:<16} {:<24} {:>10} {:>7} {:>9}  stacking",
        "plugin", "world", "grants", "fuel", "memory", "deadline"
    );
    let set = host.plugins();
    for plugin in &config.plugins {
        let grants: Vec<&str> = plugin.grants.iter().map(|c| c.as_str()).collect();
        let stacking = match set.get(&plugin.name) {
            Some(loaded) if loaded.world() == World::Promotion => format!("{:?}", loaded.stacking()).to_lowercase(),
            _ => "-".into(),
        };
        println!(
            "{:<20} {:<16} {:<24} {:>10} {:>5}Mi {:>7}ms  {stacking}",
            plugin.name,
            plugin.world().as_str(),
            if grants.is_empty() {
                "-".into()
            } else {
                grants.join(",")
            },
            plugin.limits.fuel,
            plugin.limits.memory_bytes >> 20,
            plugin.limits.deadline.as_millis(),
        );
    }
    let order: Vec<&str> = config.promotions.iter().map(|p| p.plugin.as_str()).collect();
    println!("promotions apply in this order: {}", order.join(" → "));
    Ok(())
}

fn build(path: PathBuf, max_size_kib: u64) -> anyhow::Result<()> {
    let manifest = path.join("vitrine-plugin.toml");
    let world = testing::manifest_world(&manifest)?;
    let target_dir = testing::cargo_target_dir(&path)?;
    let wasm = testing::build_component(&path, &target_dir)?;
    let plugin = TestPlugin::from_wasm(&wasm, world).build().with_context(|| {
        format!(
            "{} does not implement the `{}` world its manifest names",
            wasm.display(),
            fixture::world_name(world)
        )
    })?;
    let limit = max_size_kib * 1024;
    if plugin.size() > limit {
        bail!(
            "{} is {} bytes, over the limit of {max_size_kib} KiB ({limit} bytes); see --max-size",
            wasm.display(),
            plugin.size()
        );
    }
    println!("component: {}", wasm.display());
    println!("world:     {}", fixture::world_name(world));
    println!("size:      {} bytes (limit {limit})", plugin.size());
    println!("sha256:    {}", plugin.sha256());
    Ok(())
}

fn run_one(
    wasm: PathBuf,
    world: World,
    input: PathBuf,
    config: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    fuel: u64,
) -> anyhow::Result<()> {
    // Parse first: a typo in the fixture is reported before any compiling.
    let input = fixture::load(world, &input)?;
    let mut builder = TestPlugin::from_wasm(&wasm, world).limits(Limits {
        fuel,
        ..Limits::default()
    });
    for (name, value) in config {
        builder = builder.config(name, value);
    }
    for (name, value) in secrets {
        builder = builder.secret(name, value);
    }
    let plugin = builder
        .build()
        .with_context(|| format!("loading {} as a {} plugin", wasm.display(), fixture::world_name(world)))?;
    let run = plugin.run_input(&input)?;
    let cost = format!(
        "fuel used: {} of {fuel}\ntime: {:.3} ms (instantiate + call)",
        run.fuel_used,
        run.time.as_secs_f64() * 1e3
    );
    match run.output {
        Ok(output) => {
            println!("{}", serde_json::to_string_pretty(&output.to_json())?);
            eprintln!("{cost}");
            Ok(())
        }
        Err(error) => {
            eprintln!("error ({}): {error}", error.kind().as_str());
            eprintln!("{cost}");
            Err(PluginFailed.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own checks of the command line (unique ids, valid defaults).
    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
