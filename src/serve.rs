//! Starting and stopping an adapter: `serve`, `demo`, the tests and the
//! offline replay all go through [`start`].
//!
//! Shutdown (SIGTERM/SIGINT, or [`Running::shutdown`]): `/readyz` turns 503
//! at once; after `shutdown_delay` (time for load balancers to notice) the
//! listener closes; in-flight requests finish within `shutdown_grace`; the
//! recording is flushed; then the process exits 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod known;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::admin::{self, AdminState};
use crate::app::{App, Generation};
use crate::clock::Clock;
use crate::config::{Config, DurabilityMode, RecordConfig, RedactionConfig, ShadowConfig};
use crate::locks::Store;
use crate::metrics::Metrics;
use crate::net::client::{self, ClientOptions, HttpClient};
use crate::net::server::{self, ServeOptions};
use crate::net::tls;
use crate::passthrough::Passthrough;
use crate::record::redact::Redactor;
use crate::record::{Recorder, WriterHandle};
use crate::rollout::Rollout;
use crate::shadow::{Shadow, ShadowHandle};
use crate::tenant::Tenant;
use crate::voucherify::client::VoucherifyClient;
use known::metrics_for;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Tls(#[from] tls::TlsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("{0}")]
    Store(#[from] crate::locks::StoreError),
    #[error("cannot start the shadow's mismatch writer: {0}")]
    Shadow(std::io::Error),
    #[error("cannot start the recording: {0}")]
    Record(std::io::Error),
    #[error("{0}")]
    Tenant(String),
}

/// Starts the shutdown from anywhere (a signal handler, a test).
#[derive(Clone)]
pub struct ShutdownHandle {
    draining: Arc<AtomicBool>,
    stop: CancellationToken,
}

impl ShutdownHandle {
    pub fn shutdown(&self) {
        self.draining.store(true, Ordering::Release);
        self.stop.cancel();
    }
}

/// Reloads a running instance. It can be sent to a blocking-pool thread, so
/// that reading and applying a file (and starting a recording or shadow
/// workers) never holds up requests, on a one-thread runtime as well.
#[derive(Clone)]
pub struct Reloads {
    app: Arc<App>,
    reload: Arc<Reloader>,
    metrics: Arc<Metrics>,
}

impl Reloads {
    /// Counts a reload whose file did not validate.
    pub fn refused(&self) {
        self.metrics.config_reload(false);
    }

    /// Applies a new, validated configuration: tenants, routes, messages,
    /// pass-through, recording, lock terms and request limits are swapped
    /// at once (requests in flight finish on the old ones). What the
    /// running listeners and store were built from cannot change without a
    /// restart: those keys are returned, and left as they were.
    pub fn apply(&self, cfg: &Config) -> Result<Vec<&'static str>, StartError> {
        let result = self.reload.apply(&self.app, cfg);
        self.metrics.config_reload(result.is_ok());
        if result.is_ok() {
            self.metrics.config_loaded(&cfg.fingerprint);
        }
        result
    }
}

/// A running adapter; dropping it starts its shutdown.
pub struct Running {
    pub addr: SocketAddr,
    pub admin_addr: Option<SocketAddr>,
    pub metrics: Arc<Metrics>,
    store: Store,
    app: Arc<App>,
    reload: Arc<Reloader>,
    handle: ShutdownHandle,
    task: Option<JoinHandle<()>>,
}

impl Running {
    pub fn handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Drains and stops; returns once in-flight requests are done and the
    /// recording is on disk.
    pub async fn shutdown(self) {
        self.handle.shutdown();
        self.wait().await
    }

    /// Waits until the adapter has stopped (after its handle was used).
    pub async fn wait(mut self) {
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// What reloading this instance takes, to be moved off the runtime.
    pub fn reloads(&self) -> Reloads {
        Reloads {
            app: self.app.clone(),
            reload: self.reload.clone(),
            metrics: self.metrics.clone(),
        }
    }

    /// The lock store it runs on (for inspection).
    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

/// What a recorder was made from.
#[derive(PartialEq)]
struct RecorderKey {
    record: RecordConfig,
    redaction: RedactionConfig,
    secrets: Vec<String>,
}

/// What a shadow was made from.
#[derive(PartialEq)]
struct ShadowKey {
    shadow: ShadowConfig,
    secrets: Vec<String>,
    redaction: RedactionConfig,
}

/// What a reload needs to build a new [`Generation`], and the config the
/// running instance was started with (to tell what needs a restart).
struct Reloader {
    http: HttpClient,
    metrics: Arc<Metrics>,
    clock: Clock,
    /// Every recording writer started, joined at shutdown.
    writers: Mutex<Vec<WriterHandle>>,
    /// The recorder in force, with what it was made from.
    recorder: Mutex<Option<(RecorderKey, Recorder)>>,
    /// Every shadow started, finished at shutdown.
    shadows: Mutex<Vec<ShadowHandle>>,
    /// The shadow in force, with what it was made from.
    shadow: Mutex<Option<(ShadowKey, Shadow)>>,
    /// The rollout's guards, which every shadow reports to.
    rollout: Rollout,
    config: Mutex<Config>,
}

impl Reloader {
    fn generation(&self, cfg: &Config) -> Result<Generation, StartError> {
        let mut tenants = HashMap::new();
        let mut secrets = Vec::new();
        for t in &cfg.tenants {
            tenants.insert(t.api_key.clone(), Arc::new(Tenant::new(t).map_err(StartError::Tenant)?));
            secrets.extend([
                t.api_key.clone(),
                t.secret_key.expose().to_owned(),
                t.voucherify.app_id.clone(),
                t.voucherify.app_token.expose().to_owned(),
            ]);
        }
        // The recorder is kept while its settings and the secrets it
        // redacts are the same; otherwise a new one starts, and the one
        // replaced finishes writing when the last request on it is done.
        let mut last = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        let recorder = match &cfg.record {
            Some(r) => {
                let key = RecorderKey {
                    record: r.clone(),
                    redaction: cfg.redaction.clone(),
                    secrets: secrets.clone(),
                };
                match &*last {
                    Some((same, rec)) if *same == key => Some(rec.clone()),
                    _ => {
                        let redactor = Redactor::from_config(&cfg.redaction, secrets.clone());
                        let (rec, w) = Recorder::start(r, redactor, self.metrics.clone(), self.clock.clone())
                            .map_err(StartError::Record)?;
                        self.writers.lock().unwrap_or_else(|p| p.into_inner()).push(w);
                        *last = Some((key, rec.clone()));
                        Some(rec)
                    }
                }
            }
            None => {
                *last = None;
                None
            }
        };
        drop(last);
        let shadow = self.shadow(cfg, secrets)?;
        Ok(Generation {
            shadow,
            tenants,
            routes: cfg.routes,
            passthrough: cfg
                .passthrough
                .as_ref()
                .map(|p| Arc::new(Passthrough::new(p, self.http.clone()))),
            recorder,
            locks: cfg.locks.clone(),
            max_body: cfg.server.max_body_bytes,
            body_read_timeout: cfg.server.body_read_timeout,
            request_timeout: cfg.server.request_timeout,
        })
    }

    /// The shadow, when a route is in shadow mode: kept while `[shadow]`
    /// and what it redacts are the same, as the recorder is.
    fn shadow(&self, cfg: &Config, secrets: Vec<String>) -> Result<Option<Shadow>, StartError> {
        let mut last = self.shadow.lock().unwrap_or_else(|p| p.into_inner());
        let wanted = cfg.routes.any_shadow() || cfg.tenants.iter().any(|t| t.routes.any_shadow());
        if !wanted {
            *last = None;
            return Ok(None);
        }
        // Redacted exactly as recordings are, recording on or not.
        let key = ShadowKey {
            shadow: cfg.shadow.clone(),
            secrets,
            redaction: cfg.redaction.clone(),
        };
        if let Some((same, shadow)) = &*last
            && *same == key
        {
            return Ok(Some(shadow.clone()));
        }
        let redactor = Redactor::from_config(&key.redaction, key.secrets.clone());
        let (shadow, handle) = Shadow::start(
            &key.shadow,
            redactor,
            self.metrics.clone(),
            self.clock.clone(),
            VoucherifyClient::new(self.http.clone(), self.metrics.clone()),
            self.rollout.clone(),
        )
        .map_err(StartError::Shadow)?;
        self.shadows.lock().unwrap_or_else(|p| p.into_inner()).push(handle);
        *last = Some((key, shadow.clone()));
        Ok(Some(shadow))
    }

    fn apply(&self, app: &App, cfg: &Config) -> Result<Vec<&'static str>, StartError> {
        let mut running = self.config.lock().unwrap_or_else(|p| p.into_inner());
        let generation = self.generation(cfg)?;
        // The shares a request reads come with its generation; the guards
        // follow them here, in the same step.
        self.rollout.configure(cfg);
        app.swap(generation);
        let needs_restart = needs_restart(&running, cfg);
        // What was applied is remembered; what needs a restart stays as the
        // instance runs it, so the next reload reports it again.
        let mut applied = cfg.clone();
        applied.server.listen = running.server.listen;
        applied.server.tls = running.server.tls.clone();
        applied.server.max_connections = running.server.max_connections;
        applied.server.header_read_timeout = running.server.header_read_timeout;
        applied.server.idle_timeout = running.server.idle_timeout;
        applied.server.shutdown_grace = running.server.shutdown_grace;
        applied.server.shutdown_delay = running.server.shutdown_delay;
        applied.server.worker_threads = running.server.worker_threads;
        applied.admin = running.admin;
        applied.store = running.store.clone();
        applied.durability = running.durability;
        applied.upstream_tls = running.upstream_tls.clone();
        applied.log = running.log.clone();
        applied.telemetry = running.telemetry.clone();
        applied.server.watch_config = running.server.watch_config;
        applied.locks.release_retry_every = running.locks.release_retry_every;
        *running = applied;
        Ok(needs_restart)
    }
}

/// The keys a reload cannot apply: the listeners, the store and the
/// outbound TLS the instance was built with.
fn needs_restart(old: &Config, new: &Config) -> Vec<&'static str> {
    let (o, n) = (&old.server, &new.server);
    [
        ("server.listen", o.listen != n.listen),
        ("server.tls", o.tls != n.tls),
        ("server.max_connections", o.max_connections != n.max_connections),
        (
            "server.header_read_timeout",
            o.header_read_timeout != n.header_read_timeout,
        ),
        ("server.idle_timeout", o.idle_timeout != n.idle_timeout),
        ("server.shutdown_grace", o.shutdown_grace != n.shutdown_grace),
        ("server.shutdown_delay", o.shutdown_delay != n.shutdown_delay),
        ("server.worker_threads", o.worker_threads != n.worker_threads),
        ("admin", old.admin != new.admin),
        ("store", old.store != new.store),
        ("store.durability", old.durability != new.durability),
        ("upstream_tls", old.upstream_tls != new.upstream_tls),
        ("log", old.log != new.log),
        ("telemetry", old.telemetry != new.telemetry),
        ("server.watch_config", o.watch_config != n.watch_config),
        (
            "locks.release_retry_every",
            old.locks.release_retry_every != new.locks.release_retry_every,
        ),
    ]
    .into_iter()
    .filter_map(|(k, changed)| changed.then_some(k))
    .collect()
}

/// Says at start-up whether the lock store would lose acknowledged locks
/// on a crash (`[store] durability`). Redis may still be coming up: a few
/// tries, a second apart.
async fn report_durability(store: Store, mode: DurabilityMode) {
    for _ in 0..30 {
        match store.durability().await {
            Ok(d) if d.durable => {
                tracing::info!(detail = %d.detail, "lock store durability");
                return;
            }
            Ok(d) if mode == DurabilityMode::Require => {
                tracing::error!(detail = %d.detail, "lock store is not durable: /readyz refuses readiness until it is");
                return;
            }
            Ok(d) => {
                tracing::warn!(detail = %d.detail, "lock store is not durable: \"never loses a lock reference\" holds only while Redis runs");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "lock store persistence not readable yet");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// How long the start-up check waits for the lock store's first answer.
const START_CHECK: Duration = Duration::from_secs(5);

/// Says once, at start, when the lock store does not answer: a warning, as
/// requests that need it answer 503 until it does; an error under
/// `[store] durability = "require"`, whose `/readyz` stays 503 meanwhile.
/// The Redis connection is made lazily, so start itself never fails on it.
async fn check_store_at_start(store: Store, mode: DurabilityMode) {
    let why = match tokio::time::timeout(START_CHECK, store.ping()).await {
        Ok(Ok(())) => return,
        Ok(Err(e)) => crate::error::Failure::from(e).chain().to_string(),
        Err(_) => format!("no answer within {}", humantime::format_duration(START_CHECK)),
    };
    let store = store.backend_name();
    if mode == DurabilityMode::Require {
        tracing::error!(store, error = %why, "lock store unreachable at start: /readyz stays 503 and translated requests answer 503 until it answers");
    } else {
        tracing::warn!(store, error = %why, "lock store unreachable at start: translated requests answer 503 until it answers");
    }
}

/// Starts an adapter from a validated configuration.
pub async fn start(cfg: &Config, clock: Clock) -> Result<Running, StartError> {
    let metrics = Arc::new(metrics_for(cfg));
    let store = Store::connect(&cfg.store, clock.clone(), metrics.clone()).await?;
    metrics.store_in_use(store.backend_name(), store.timed_calls());
    tokio::spawn(check_store_at_start(store.clone(), cfg.durability));
    if cfg.durability != DurabilityMode::None {
        tokio::spawn(report_durability(store.clone(), cfg.durability));
    }

    let mut extra_ca = Vec::new();
    for path in &cfg.upstream_tls.extra_ca {
        extra_ca.extend(tls::load_certs(path)?);
    }
    let http = client::build(&ClientOptions {
        roots: cfg.upstream_tls.roots,
        extra_ca,
        ..ClientOptions::default()
    })?;

    let rollout = Rollout::new(
        store.clone(),
        clock.clone(),
        metrics.clone(),
        cfg.server.request_timeout,
    );
    rollout.configure(cfg);
    let reload = Arc::new(Reloader {
        http: http.clone(),
        metrics: metrics.clone(),
        clock: clock.clone(),
        writers: Mutex::new(Vec::new()),
        recorder: Mutex::new(None),
        shadows: Mutex::new(Vec::new()),
        shadow: Mutex::new(None),
        rollout: rollout.clone(),
        config: Mutex::new(cfg.clone()),
    });
    let app = Arc::new(App::new(
        reload.generation(cfg)?,
        store.clone(),
        VoucherifyClient::new(http.clone(), metrics.clone()),
        clock,
        metrics.clone(),
        rollout.clone(),
    ));
    metrics.config_loaded(&cfg.fingerprint);

    let server_tls = match &cfg.server.tls {
        Some(files) => Some(tls::server_config(&files.cert, &files.key)?),
        None => None,
    };
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| StartError::Bind { addr, source })
    };
    let listener = bind(cfg.server.listen).await?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: cfg.server.listen,
        source,
    })?;
    let admin = match cfg.admin {
        Some(a) => {
            let l = bind(a).await?;
            let local = l.local_addr().map_err(|source| StartError::Bind { addr: a, source })?;
            Some((l, local))
        }
        None => None,
    };
    let admin_addr = admin.as_ref().map(|(_, a)| *a);

    let draining = Arc::new(AtomicBool::new(false));
    let stop = CancellationToken::new();
    let opts = ServeOptions {
        max_connections: cfg.server.max_connections,
        header_read_timeout: cfg.server.header_read_timeout,
        idle_timeout: cfg.server.idle_timeout,
        tls: server_tls,
        shutdown_grace: cfg.server.shutdown_grace,
    };
    let delay = cfg.server.shutdown_delay;
    let admin_stop = CancellationToken::new();
    // The sweeper stops after the drain (releases failed by the last
    // requests are kept in the store for the next instance), before the
    // recording is flushed (it holds the configuration, and so the
    // recorder).
    let sweep_stop = CancellationToken::new();
    let sweeper = tokio::spawn(crate::ops::sweep::run(
        app.sweep_tenants(),
        cfg.locks.release_retry_every,
        sweep_stop.clone(),
    ));
    if let Some((l, _)) = admin {
        let state = Arc::new(AdminState {
            store: store.clone(),
            metrics: metrics.clone(),
            draining: draining.clone(),
            durability: cfg.durability,
            rollout,
        });
        tokio::spawn(admin::serve(l, state, admin_stop.clone()));
    }
    let listener_stop = CancellationToken::new();
    let task = {
        let (stop, listener_stop, admin_stop) = (stop.clone(), listener_stop.clone(), admin_stop.clone());
        let (app, reloader) = (app.clone(), reload.clone());
        tokio::spawn(async move {
            let handler_app = app.clone();
            let serving = tokio::spawn(server::serve(
                listener,
                opts,
                listener_stop.clone(),
                move |req, conn| {
                    let app = handler_app.clone();
                    async move { Ok(app.handle(req, conn).await) }
                },
            ));
            stop.cancelled().await;
            // Keep serving while load balancers notice `/readyz` is 503.
            tokio::time::sleep(delay).await;
            listener_stop.cancel();
            let _ = serving.await;
            sweep_stop.cancel();
            let _ = sweeper.await;
            drop(app);
            let writers = std::mem::take(&mut *reloader.writers.lock().unwrap_or_else(|p| p.into_inner()));
            let _ = tokio::task::spawn_blocking(move || writers.into_iter().for_each(WriterHandle::finish)).await;
            let shadows = std::mem::take(&mut *reloader.shadows.lock().unwrap_or_else(|p| p.into_inner()));
            for s in shadows {
                s.finish().await;
            }
            admin_stop.cancel();
        })
    };
    Ok(Running {
        addr,
        admin_addr,
        metrics,
        store,
        app,
        reload,
        handle: ShutdownHandle { draining, stop },
        task: Some(task),
    })
}

/// Waits for SIGTERM or SIGINT.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
