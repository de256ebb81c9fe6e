//! `vitrine-origin`: serve, migrate, seed, create-user.

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use vitrine_origin::config::{Config, Listen};
use vitrine_origin::state::AppState;

#[derive(Parser)]
#[command(name = "vitrine-origin", version, about = "The Vitrine origin service")]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "VITRINE_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the storefront and admin API.
    Serve {
        #[command(flatten)]
        config: Config,
        #[command(flatten)]
        listen: Listen,
        /// Apply pending migrations before serving (always done on the embedded default).
        #[arg(long, env = "VITRINE_MIGRATE_ON_START")]
        migrate: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        config: Config,
    },
    /// Generate the demo DIY catalog.
    Seed {
        #[command(flatten)]
        config: Config,
        #[command(flatten)]
        seed: vitrine_origin::seed::SeedArgs,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    vitrine_origin::server::init_tracing(cli.log_json);
    match cli.command {
        Command::Serve {
            config,
            listen,
            migrate,
        } => {
            let state = AppState::connect(config, migrate).await?;
            let listener = tokio::net::TcpListener::bind(listen.listen)
                .await
                .with_context(|| format!("while binding {}", listen.listen))?;
            vitrine_origin::server::serve(state, listener, vitrine_origin::server::shutdown_signal()).await
        }
        Command::Migrate { config } => {
            let url = config.effective_database_url();
            if config.database_url.is_none() {
                std::fs::create_dir_all(&config.data_dir)?;
            }
            let db = vitrine_origin::db::Db::connect(&url, 2).await?;
            db.migrate().await?;
            tracing::info!(engine = ?db.engine(), "migrations applied");
            Ok(())
        }
        Command::Seed { config, seed } => {
            let state = AppState::connect(config, true).await?;
            let report = vitrine_origin::seed::run(&state, &seed).await?;
            println!("{report}");
            Ok(())
        }
    }
}
