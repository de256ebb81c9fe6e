//! `vitrine-origin`: serve, migrate, seed, reindex, create-user.

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
    /// Rebuild the search index from the database, beside the one in use, and
    /// put it in use: a running server catches it up and swaps it in between
    /// two queries, so search never stops.
    Reindex {
        #[command(flatten)]
        config: Config,
    },
    /// Create a user (this is how the first super admin is made) and print its
    /// id. The password is read from `VITRINE_NEW_PASSWORD`, else from one
    /// line of stdin; it is never a flag, so it stays out of `ps` and shell history.
    CreateUser {
        #[command(flatten)]
        config: Config,
        /// The user's email address.
        #[arg(long)]
        email: String,
        /// The user's display name.
        #[arg(long)]
        name: String,
        /// shopper, store_manager, super_admin or partner.
        #[arg(long)]
        role: vitrine_origin::auth::Role,
    },
    /// Create the sync pipeline's SQS FIFO queue `<name>.fifo` and its
    /// dead-letter queue `<name>-dlq.fifo` (messages move there after
    /// `--sync-max-receives` receives), on AWS or at `--sqs-endpoint`, and
    /// print their URLs as the `VITRINE_SQS_QUEUE_URL=` and
    /// `VITRINE_SQS_DLQ_URL=` lines `serve` reads. Creating queues that exist
    /// with the same attributes returns them unchanged.
    SqsCreateQueues {
        #[command(flatten)]
        sync: vitrine_origin::sync::SyncConfig,
        /// The queues' name, without `.fifo`.
        #[arg(long, default_value = "vitrine-sync")]
        name: String,
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
        Command::Reindex { config } => {
            config.validate()?;
            let embedded = config.database_url.is_none();
            if embedded {
                std::fs::create_dir_all(&config.data_dir)
                    .with_context(|| format!("while creating data directory {}", config.data_dir.display()))?;
            }
            let db = vitrine_origin::db::Db::connect(&config.effective_database_url(), 4).await?;
            if embedded {
                db.migrate().await?;
            }
            let root = vitrine_origin::search::search_dir(&config);
            std::fs::create_dir_all(&root)
                .with_context(|| format!("while creating the search directory {}", root.display()))?;
            let report = vitrine_origin::search::indexer::rebuild(&db, &root).await?;
            db.close().await;
            println!("{report}");
            Ok(())
        }
        Command::SqsCreateQueues { sync, name } => {
            let (queue, dlq) = vitrine_origin::sync::sqs::create_fifo_pair(&sync, &name, sync.max_receives).await?;
            println!("VITRINE_SQS_QUEUE_URL={queue}");
            println!("VITRINE_SQS_DLQ_URL={dlq}");
            Ok(())
        }
        Command::CreateUser {
            config,
            email,
            name,
            role,
        } => {
            let password = new_password()?;
            let embedded = config.database_url.is_none();
            if embedded {
                std::fs::create_dir_all(&config.data_dir)
                    .with_context(|| format!("while creating data directory {}", config.data_dir.display()))?;
            }
            let db = vitrine_origin::db::Db::connect(&config.effective_database_url(), 2).await?;
            if embedded {
                db.migrate().await?;
            }
            let user = vitrine_origin::auth::service::create_user(&db, &email, &password, &name, role)
                .await
                .with_context(|| format!("while creating user `{email}` with role {}", role.as_str()))?;
            db.close().await;
            println!("{}", user.id);
            Ok(())
        }
    }
}

/// The new user's password: `VITRINE_NEW_PASSWORD`, else one line of stdin.
fn new_password() -> anyhow::Result<String> {
    use std::io::{BufRead as _, IsTerminal as _};
    match std::env::var("VITRINE_NEW_PASSWORD") {
        Ok(password) => return Ok(password),
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!("VITRINE_NEW_PASSWORD is not valid UTF-8"),
        Err(std::env::VarError::NotPresent) => {}
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("password (it echoes; set VITRINE_NEW_PASSWORD to avoid that):");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("while reading the new user's password from stdin")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    anyhow::ensure!(
        !password.is_empty(),
        "no password given: set VITRINE_NEW_PASSWORD or write it on stdin"
    );
    Ok(password.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)] // in tests a panic is the failure report
mod tests {
    use clap::{CommandFactory as _, Parser as _};

    use super::{Cli, Command};

    /// clap's own checks of the whole command line: two flattened settings
    /// with one id (the sync pipeline's and the webhooks' `retry_base_ms`
    /// once made every subcommand fail with "required argument not
    /// provided") are caught here, not by the first operator.
    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sync_and_webhook_retries_are_separate_settings() {
        let cli = Cli::try_parse_from([
            "vitrine-origin",
            "serve",
            "--sync-retry-base-ms",
            "250",
            "--webhook-retry-base-ms",
            "4000",
            "--webhook-retry-max-ms",
            "8000",
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let Command::Serve { config, .. } = cli.command else {
            panic!("not serve");
        };
        assert_eq!(config.sync.retry_base_ms, 250);
        assert_eq!(config.sync.retry_max_ms, 60_000);
        assert_eq!(config.notifications.retry_base_ms, 4_000);
        assert_eq!(config.notifications.retry_max_ms, 8_000);
    }
}
