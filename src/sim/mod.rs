//! A Voucherify-compatible upstream that runs offline.
//!
//! Started by `couponbridge simulate`, by the demo, and in-process by tests
//! and benchmarks (`SimBuilder::new().start("127.0.0.1:0")`). Each simulated
//! project has its own credentials, vouchers and stacking mode, and its own
//! mutex: one validation is one critical section, so concurrent locking
//! validations of a single-use code produce exactly one APPLICABLE.

// `ApiError` mirrors Voucherify's error object field for field; it is built
// once per failed request, so its size (a few hundred bytes moved on the
// error path) is not worth boxing for.
#![allow(clippy::result_large_err)]

pub mod catalog;
pub mod engine;
pub mod faults;
mod http;
pub mod model;
pub mod records;
mod routes;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::net::server::{self, ServeOptions};
use engine::{ApiError, ProjectState};
use faults::Faults;
use model::{ApplicationMode, ProjectSettings};

pub const DEFAULT_APP_ID: &str = "sim-app-id";
pub const DEFAULT_APP_TOKEN: &str = "sim-app-token";

pub struct Project {
    pub app_id: String,
    app_token: String,
    pub state: Mutex<ProjectState>,
}

impl Project {
    /// Runs `f` with the project's state locked. A panic inside another
    /// request cannot poison the simulator for good: the state is still
    /// consistent at every `?` in the engine, so the lock is recovered.
    pub fn with<R>(&self, f: impl FnOnce(&mut ProjectState) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }
}

pub struct Simulator {
    projects: HashMap<String, Arc<Project>>,
    clock: Clock,
    faults: Mutex<Faults>,
    faults_active: AtomicBool,
    /// Bumped, under the `faults` lock, each time faults are set: what
    /// held requests wait for.
    faults_set: tokio::sync::watch::Sender<u64>,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// `/v1` requests begun, so tests can wait for one to be in flight.
    begun: tokio::sync::watch::Sender<u64>,
    /// The last `X-Request-Id` values received (newest last).
    request_ids: Mutex<VecDeque<String>>,
}

impl Simulator {
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn project(&self, app_id: &str) -> Option<&Arc<Project>> {
        self.projects.get(app_id)
    }

    /// The project whose credentials these are, compared in constant time.
    fn authenticate(&self, app_id: &str, token: &str) -> Option<&Arc<Project>> {
        use subtle::ConstantTimeEq;
        let p = self.projects.get(app_id)?;
        bool::from(p.app_token.as_bytes().ct_eq(token.as_bytes())).then_some(p)
    }

    pub fn set_faults(&self, f: Faults) {
        let active = f.is_active();
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        *faults = f;
        self.faults_active.store(active, Ordering::Release);
        self.faults_set.send_modify(|n| *n += 1);
    }

    /// The fault for a `method` request on `path`, and for a held one what
    /// to wait on: subscribed under the same lock `set_faults` bumps it
    /// under, so no change is missed.
    pub(crate) fn decide_fault(
        &self,
        method: &::http::Method,
        path: &str,
    ) -> (Duration, faults::Fault, Option<tokio::sync::watch::Receiver<u64>>) {
        let mut faults = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        let (delay, fault) = faults.decide(method.as_str(), path);
        let release = (fault == faults::Fault::Hold).then(|| self.faults_set.subscribe());
        (delay, fault, release)
    }

    pub fn faults(&self) -> Faults {
        self.faults.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Counts `/v1` requests as they begin (before any injected latency).
    pub fn requests_begun(&self) -> tokio::sync::watch::Receiver<u64> {
        self.begun.subscribe()
    }

    /// The `X-Request-Id` headers of the last requests, newest last.
    pub fn request_ids(&self) -> Vec<String> {
        self.request_ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn saw_request(&self, request_id: Option<&str>) {
        self.begun.send_modify(|n| *n += 1);
        if let Some(id) = request_id {
            let mut ids = self.request_ids.lock().unwrap_or_else(|p| p.into_inner());
            if ids.len() == 64 {
                ids.pop_front();
            }
            ids.push_back(id.to_owned());
        }
    }

    /// Serves on `listener` until `shutdown` is cancelled.
    pub async fn serve(self: Arc<Self>, listener: TcpListener, shutdown: CancellationToken) {
        let opts = ServeOptions {
            max_connections: 100_000,
            tls: self.tls.clone(),
            ..ServeOptions::default()
        };
        server::serve(listener, opts, shutdown, move |req, _conn| {
            let sim = self.clone();
            async move { http::handle(sim, req).await }
        })
        .await
    }
}

/// A simulator serving in the background; stops when dropped.
pub struct RunningSim {
    pub addr: SocketAddr,
    pub sim: Arc<Simulator>,
    shutdown: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl RunningSim {
    pub fn base_url(&self) -> String {
        let scheme = if self.sim.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RunningSim {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

struct ProjectSpec {
    app_id: String,
    app_token: String,
    settings: ProjectSettings,
    seeds: Vec<Value>,
}

/// Builds a simulator. Without any `project` call it has one project with
/// the default credentials `sim-app-id` / `sim-app-token`.
pub struct SimBuilder {
    projects: Vec<ProjectSpec>,
    clock: Clock,
    faults: Faults,
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Default for SimBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SimBuilder {
    pub fn new() -> Self {
        SimBuilder {
            projects: Vec::new(),
            clock: Clock::System,
            faults: Faults::default(),
            tls: None,
        }
    }

    /// Adds a project; later `mode` and `seed` calls apply to it.
    pub fn project(mut self, app_id: &str, app_token: &str) -> Self {
        self.projects.push(ProjectSpec {
            app_id: app_id.to_owned(),
            app_token: app_token.to_owned(),
            settings: ProjectSettings::default(),
            seeds: Vec::new(),
        });
        self
    }

    fn last(&mut self) -> &mut ProjectSpec {
        if self.projects.is_empty() {
            self.projects.push(ProjectSpec::default());
        }
        self.projects.last_mut().expect("a project was just added")
    }

    pub fn mode(mut self, mode: ApplicationMode) -> Self {
        self.last().settings.redeemables_application_mode = mode;
        self
    }

    /// Seeds the current project: a JSON array of vouchers (the shape
    /// `GET /v1/vouchers/{code}` returns) or `{validation_rules, vouchers}`.
    pub fn seed(mut self, doc: Value) -> Self {
        self.last().seeds.push(doc);
        self
    }

    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    pub fn faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Serves HTTPS (HTTP/2 and HTTP/1.1 through ALPN).
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    pub fn build(mut self) -> Result<Arc<Simulator>, ApiError> {
        self.last();
        let now = self.clock.now();
        let mut projects = HashMap::new();
        for spec in self.projects {
            let mut state = ProjectState::new(spec.settings);
            for doc in &spec.seeds {
                state.seed(doc, now)?;
            }
            projects.insert(
                spec.app_id.clone(),
                Arc::new(Project {
                    app_id: spec.app_id,
                    app_token: spec.app_token,
                    state: Mutex::new(state),
                }),
            );
        }
        self.faults.check().map_err(ApiError::invalid_payload)?;
        let sim = Simulator {
            projects,
            clock: self.clock,
            faults_active: AtomicBool::new(self.faults.is_active()),
            faults: Mutex::new(self.faults),
            faults_set: tokio::sync::watch::Sender::new(0),
            tls: self.tls,
            begun: tokio::sync::watch::Sender::new(0),
            request_ids: Mutex::new(VecDeque::with_capacity(64)),
        };
        Ok(Arc::new(sim))
    }

    /// Builds and serves on `addr` (use port 0 in tests).
    pub async fn start(self, addr: &str) -> Result<RunningSim, Box<dyn std::error::Error + Send + Sync>> {
        let sim = self
            .build()
            .map_err(|e| format!("{}: {}", e.message, e.details.unwrap_or_default()))?;
        let listener = TcpListener::bind(addr).await?;
        Ok(spawn(sim, listener))
    }
}

impl Default for ProjectSpec {
    fn default() -> Self {
        ProjectSpec {
            app_id: DEFAULT_APP_ID.into(),
            app_token: DEFAULT_APP_TOKEN.into(),
            settings: ProjectSettings::default(),
            seeds: Vec::new(),
        }
    }
}

/// Serves an already built simulator on an already bound listener.
pub fn spawn(sim: Arc<Simulator>, listener: TcpListener) -> RunningSim {
    let addr = listener.local_addr().expect("a bound listener has an address");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(sim.clone().serve(listener, shutdown.clone()));
    RunningSim {
        addr,
        sim,
        shutdown,
        task: Some(task),
    }
}
