//! Reloading the configuration without a restart: on SIGHUP, and with
//! `[server] watch_config = true` when the file changes (the `notify`
//! crate: inotify on Linux). The file is read again and validated
//! completely (the `check-config` rules); an invalid one is refused with
//! every error logged and the running configuration stays. What a reload
//! applies, and what needs a restart, is [`Running::reload`]'s.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::config::Config;
use crate::serve::Reloads;

/// Why a reload was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    Hangup,
    FileChanged,
}

impl Trigger {
    /// As a log line names it.
    pub fn name(self) -> &'static str {
        match self {
            Trigger::Hangup => "hangup",
            Trigger::FileChanged => "file_changed",
        }
    }
}

/// The reload triggers: SIGHUP always, file changes when asked. The
/// watcher (if any) lives as long as the returned guard.
pub fn triggers(path: Option<&Path>, watch: bool) -> (mpsc::Receiver<Trigger>, Option<notify::RecommendedWatcher>) {
    let (tx, rx) = mpsc::channel(8);
    #[cfg(unix)]
    {
        let tx = tx.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut hup) = signal(SignalKind::hangup()) else {
                tracing::warn!("cannot listen for SIGHUP; reload by signal is off");
                return;
            };
            while hup.recv().await.is_some() {
                if tx.send(Trigger::Hangup).await.is_err() {
                    return;
                }
            }
        });
    }
    let watcher = match (watch, path) {
        (true, Some(path)) => watch_file(path, tx),
        (true, None) => {
            tracing::warn!("server.watch_config needs a config file (--config); watching nothing");
            None
        }
        _ => None,
    };
    (rx, watcher)
}

/// Watches the file's folder, not the file: editors and config management
/// replace a file by renaming a new one over it.
fn watch_file(path: &Path, tx: mpsc::Sender<Trigger>) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let file: PathBuf = path.file_name()?.into();
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_owned(),
        None => PathBuf::from("."),
    };
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        let ours =
            event.is_ok_and(|e| !e.kind.is_access() && e.paths.iter().any(|p| p.file_name() == Some(file.as_os_str())));
        if ours {
            // A full queue already has a reload coming.
            let _ = tx.try_send(Trigger::FileChanged);
        }
    })
    .map_err(|e| tracing::warn!(error = %e, "cannot watch the config file"))
    .ok()?;
    watcher
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(|e| tracing::warn!(error = %e, dir = %dir.display(), "cannot watch the config folder"))
        .ok()?;
    Some(watcher)
}

/// Waits out a burst of triggers (an editor writes a file in several
/// steps), so one change is one reload.
pub async fn settle(rx: &mut mpsc::Receiver<Trigger>) {
    loop {
        match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            Ok(Some(_)) => continue,
            _ => return,
        }
    }
}

/// Reads, validates and applies the file; logs what happened.
/// Blocking (it reads the file): run it off the runtime.
pub fn reload(instance: &Reloads, path: Option<&Path>, why: Trigger) {
    match Config::load(path) {
        Err(errors) => {
            instance.refused();
            // The same lines `check-config` prints, each with its place.
            for e in &errors.0 {
                tracing::error!(key = %e.key, at = %e.origin, error = %e.message, "configuration error: {e}");
            }
            tracing::error!(
                why = why.name(),
                errors = errors.0.len(),
                "reload refused: the running configuration stays as it was"
            );
        }
        Ok(cfg) => match instance.apply(&cfg) {
            Ok(needs_restart) => {
                for key in &needs_restart {
                    tracing::warn!(key, "changed, but applies only after a restart; not applied");
                }
                tracing::info!(why = why.name(), fingerprint = %cfg.fingerprint, tenants = cfg.tenants.len(), "configuration reloaded");
            }
            Err(e) => {
                tracing::error!(why = why.name(), error = %e, "reload failed: the running configuration stays as it was")
            }
        },
    }
}
