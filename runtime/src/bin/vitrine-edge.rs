//! `vitrine-edge`: the edge server. Reads the operator's config (by default
//! `edge-config/vitrine.toml`, so `cargo run --bin vitrine-edge` from the
//! repository root fronts an origin on 127.0.0.1:8081 on 127.0.0.1:8080),
//! loads its plugins and watches the file for plugin changes, follows the
//! origin's change feed, and serves until SIGTERM or Ctrl-C, then drains
//! open connections for up to 10 s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use vitrine_edge_config::EdgeConfig;
use vitrine_runtime::edge::feed;
use vitrine_runtime::edge::proxy::Edge;
use vitrine_runtime::edge::server::{self, Extras};
use vitrine_runtime::plugins::reload::ConfigWatcher;
use vitrine_runtime::plugins::{ArtifactCache, EngineConfig, PluginHost};

#[derive(Parser)]
#[command(name = "vitrine-edge", about = "The Vitrine edge server")]
struct Args {
    /// The operator's config.
    #[arg(long, env = "VITRINE_EDGE_CONFIG", default_value = "edge-config/vitrine.toml")]
    config: PathBuf,
    /// Logs as JSON lines instead of text.
    #[arg(long, env = "VITRINE_LOG_JSON")]
    log_json: bool,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    init_tracing(args.log_json);
    match run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("vitrine-edge: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let config = EdgeConfig::load(&args.config)?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;

    // Plugins: loaded (and compiled, or taken from the artifact cache)
    // before traffic; the watcher swaps in changes to them while serving.
    let cache = config.plugin_host.artifact_cache.clone().map(ArtifactCache::new);
    let host = Arc::new(PluginHost::new(EngineConfig::from_config(&config.plugin_host), cache)?);
    let _watcher = tokio::task::block_in_place(|| {
        ConfigWatcher::start(Arc::clone(&host), &args.config, config.plugin_host.reload_interval)
    })?;
    tracing::info!(plugins = host.plugins().len(), "plugins loaded");

    let listen = config.edge.listen;
    let client_timeout = config.edge.client_timeout;
    let feed_config = config.edge.change_feed.clone();
    let origin = config.edge.origin.clone();
    let edge = Arc::new(Edge::new(Arc::new(config)).with_plugins(Arc::clone(&host)));

    let feed = feed::spawn(&edge, &feed_config);

    let router = server::router(
        Arc::clone(&edge),
        Extras {
            metrics: Some(metrics),
            feed,
        },
    );
    let listener = server::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, %origin, "vitrine-edge listening");
    println!("vitrine-edge listening on http://{addr} in front of {origin}");
    server::serve(
        listener,
        router,
        client_timeout,
        Duration::from_secs(10),
        shutdown_signal(),
    )
    .await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own checks of the command line (unique ids, valid defaults).
    #[test]
    fn the_command_line_is_well_formed() {
        super::Args::command().debug_assert();
    }
}
