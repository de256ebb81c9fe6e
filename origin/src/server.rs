//! Running the origin: logging, the listener, background sweeps, the change
//! feed's relay and publisher, the search indexer, the webhook sender, and
//! graceful shutdown.

use std::future::Future;
use std::time::Duration;

use tokio::net::TcpListener;

use crate::state::AppState;

/// Installs the `tracing` subscriber: JSON lines when `json`, else text.
/// `RUST_LOG` filters (default `info`).
pub fn init_tracing(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to stderr, so a command's output on stdout (an id, a report) can
    // be captured cleanly.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Serves `state` on `listener` until `shutdown` resolves, then stops taking
/// connections, lets in-flight requests finish, and closes the pool.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, database = ?state.db.engine(), carts = state.carts.backend_name(), "origin listening");
    crate::search::indexer::ensure_ready(&state).await?;
    let sweeper = tokio::spawn(sweep_forever(state.clone()));
    let relay = tokio::spawn(crate::change_feed::relay::run(state.clone()));
    let indexer = tokio::spawn(crate::search::indexer::run(state.clone()));
    let (stop_workers, workers_stop) = tokio::sync::watch::channel(false);
    let workers: Vec<_> = (0..state.config.sync.workers)
        .map(|_| tokio::spawn(crate::sync::worker::Worker::of(&state).run_until(workers_stop.clone())))
        .collect();
    let payment_worker = tokio::spawn(crate::payments::run_until(state.clone(), workers_stop.clone()));
    let mut notifications = tokio::spawn(crate::notifications::sender::run(state.clone(), workers_stop.clone()));
    let mut sync_tasks = Vec::new();
    sync_tasks.push(tokio::spawn(crate::sync::worker::watch(
        state.sync.queue.clone(),
        state.config.sync.queue_capacity,
    )));
    if state.config.sync.catalog_feed.is_some() {
        sync_tasks.push(tokio::spawn(crate::sync::feed::run(state.clone())));
    }
    tracing::info!(
        queue = state.sync.queue.kind(),
        workers = state.config.sync.workers,
        "sync pipeline running"
    );
    let publisher = state
        .feed
        .stream
        .clone()
        .map(|publisher| tokio::spawn(crate::change_feed::stream::run(state.clone(), publisher)));
    let app = crate::http::router(state.clone());
    // Long polls on the change feed answer as soon as the drain begins, so
    // they do not hold it up for their whole wait.
    let feed = state.feed.clone();
    let shutdown = async move {
        shutdown.await;
        feed.close();
    };
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    // The workers finish the batches they hold (past the visibility
    // timeout the queue hands them out again anyway, so no longer).
    let _ = stop_workers.send(true);
    let drain = state.config.sync.visibility();
    let deadline = tokio::time::Instant::now() + drain;
    for mut worker in workers {
        if tokio::time::timeout_at(deadline, &mut worker).await.is_err() {
            tracing::warn!(
                drain_secs = drain.as_secs(),
                "a sync worker was still handling a batch when the drain ended"
            );
            worker.abort();
        }
    }
    // The webhook sender finishes the attempts in flight (each within its
    // deadline) and gives back the leases of the rest.
    let drain = state.config.notifications.timeout() + Duration::from_secs(1);
    if tokio::time::timeout(drain, &mut notifications).await.is_err() {
        tracing::warn!("the webhook sender was still sending when the drain ended");
        notifications.abort();
    }
    // A payment call in flight finishes within its plugin's deadline.
    if tokio::time::timeout(Duration::from_secs(10), payment_worker)
        .await
        .is_err()
    {
        tracing::warn!("the payment worker was still calling a provider when the drain ended");
    }
    sweeper.abort();
    relay.abort();
    indexer.abort();
    for task in sync_tasks {
        task.abort();
    }
    if let Some(publisher) = publisher {
        publisher.abort();
    }
    state.db.close().await;
    tracing::info!("origin stopped");
    Ok(())
}

/// Deletes expired idempotency keys and carts every few minutes.
async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(300));
    loop {
        tick.tick().await;
        match crate::http::idempotency::sweep(&state.db).await {
            Ok(n) if n > 0 => tracing::info!(deleted = n, "expired idempotency keys swept"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweeping idempotency keys failed"),
        }
        if let crate::carts::Carts::Sql(_) = state.carts {
            match crate::carts::store::SqlCarts::sweep(&state.db).await {
                Ok(n) if n > 0 => tracing::info!(deleted = n, "expired carts swept"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "sweeping carts failed"),
            }
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutdown signal received, draining");
}
