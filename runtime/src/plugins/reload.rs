//! Reloading the operator's config while traffic flows.
//!
//! A [`ConfigWatcher`] owns one thread that looks at the config file, the
//! manifests and the components it names every `reload_interval`; when any
//! of them changed, it reads the config again and applies it with
//! [`PluginHost::apply_config`]: every plugin is loaded first, then the
//! whole set is published in one atomic swap. In-flight calls finish on the
//! set they started with; no call sees a half-loaded set.
//!
//! A config that fails to load changes nothing: the running set stays, the
//! error (with file, line and field) is logged, counted and kept in
//! [`ReloadStatus::last_error`], and the watcher tries again when the files
//! change again.
//!
//! Counted: `vitrine_plugin_config_reloads_total{outcome="applied"|"failed"}`.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};
use vitrine_edge_config::{ConfigError, EdgeConfig};

use super::{ApplyReport, PluginHost};

/// What the watcher has done so far.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// Configs applied, the first one included.
    pub applied: u64,
    /// Reloads refused.
    pub failed: u64,
    /// What the last applied reload did.
    pub last_report: Option<ApplyReport>,
    /// Why the last reload was refused, if the last attempt was refused.
    pub last_error: Option<ConfigError>,
}

struct Shared {
    host: Arc<PluginHost>,
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    fingerprint: Fingerprint,
    /// The files the last readable config named, watched with it.
    watched: Vec<PathBuf>,
    status: ReloadStatus,
}

/// Watches the config and reloads it; stops when dropped.
pub struct ConfigWatcher {
    shared: Arc<Shared>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ConfigWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigWatcher")
            .field("path", &self.shared.path)
            .finish_non_exhaustive()
    }
}

impl ConfigWatcher {
    /// Applies the config at `path` to `host` now, then watches it every
    /// `interval`. An invalid config at start is an error (nothing is
    /// watched); later ones only keep the running set.
    pub fn start(host: Arc<PluginHost>, path: impl Into<PathBuf>, interval: Duration) -> Result<Self, ConfigError> {
        let path = path.into();
        let shared = Arc::new(Shared {
            host,
            path,
            state: Mutex::new(State {
                fingerprint: Fingerprint::default(),
                watched: Vec::new(),
                status: ReloadStatus::default(),
            }),
        });
        shared.reload(true)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let worker = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("vitrine-config".into())
            .spawn(move || {
                loop {
                    match stopped.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {
                            let _ = worker.reload(false);
                        }
                        Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
            })
            .map_err(|e| vitrine_edge_config::ConfigError {
                location: vitrine_edge_config::Location::file(&shared.path),
                field: String::new(),
                message: format!("starting the config watcher thread: {e}"),
                note: None,
            })?;
        Ok(Self {
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Reads and applies the config now, changed or not (an operator's
    /// SIGHUP, say).
    pub fn reload_now(&self) -> Result<ApplyReport, ConfigError> {
        self.shared.reload(true)
    }

    /// What the watcher has done so far.
    pub fn status(&self) -> ReloadStatus {
        self.shared.lock().status.clone()
    }

    /// The watched config file.
    pub fn path(&self) -> &Path {
        &self.shared.path
    }
}

impl Drop for ConfigWatcher {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reloads if a watched file changed (or always, with `force`). The
    /// lock is held throughout, so reloads never interleave.
    fn reload(&self, force: bool) -> Result<ApplyReport, ConfigError> {
        let mut state = self.lock();
        // Taken before reading anything: a change made while this reload
        // reads the files shows up as a difference next time.
        let fingerprint = Fingerprint::of(&self.path, &state.watched);
        if !force && fingerprint == state.fingerprint {
            return Ok(ApplyReport::default());
        }
        state.fingerprint = fingerprint;
        let result = EdgeConfig::load(&self.path).and_then(|config| {
            state.watched = watched_files(&config);
            // The watched list may have grown: fold the new files in now.
            state.fingerprint = Fingerprint::of(&self.path, &state.watched).min_with(&state.fingerprint);
            self.host.apply_config(&config)
        });
        match &result {
            Ok(report) => {
                state.status.applied += 1;
                state.status.last_report = Some(report.clone());
                state.status.last_error = None;
                metrics::counter!("vitrine_plugin_config_reloads_total", "outcome" => "applied").increment(1);
            }
            Err(error) => {
                state.status.failed += 1;
                state.status.last_error = Some(error.clone());
                metrics::counter!("vitrine_plugin_config_reloads_total", "outcome" => "failed").increment(1);
                tracing::error!(config = %self.path.display(), error = %error, "plugin config refused; the running plugins stay");
            }
        }
        result
    }
}

fn watched_files(config: &EdgeConfig) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = config
        .plugins
        .iter()
        .flat_map(|p| [p.component.clone(), p.manifest.path.clone()])
        .collect();
    files.sort();
    files.dedup();
    files
}

/// What the watched files look like: the config's bytes, and each other
/// file's size and modification time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Fingerprint {
    config: Option<[u8; 32]>,
    files: Vec<(PathBuf, Option<(u64, SystemTime)>)>,
}

impl Fingerprint {
    fn of(config: &Path, files: &[PathBuf]) -> Self {
        Self {
            config: std::fs::read(config).ok().map(|bytes| Sha256::digest(&bytes).into()),
            files: files
                .iter()
                .map(|f| {
                    let meta = std::fs::metadata(f).ok();
                    let stamp = meta.and_then(|m| Some((m.len(), m.modified().ok()?)));
                    (f.clone(), stamp)
                })
                .collect(),
        }
    }

    /// `self` for the files `earlier` did not look at, `earlier` for the
    /// ones it did: a file that changed after `earlier` was taken still
    /// differs next time.
    fn min_with(mut self, earlier: &Fingerprint) -> Self {
        self.config = earlier.config;
        for (path, stamp) in &mut self.files {
            if let Some((_, before)) = earlier.files.iter().find(|(p, _)| p == path) {
                *stamp = *before;
            }
        }
        self
    }
}
