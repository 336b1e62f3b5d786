//! Progressive rollout: a share of each tenant's customers takes
//! `translate` on an operation whose route still passes through or
//! shadows (`[rollout]`, `[tenants.NAME.rollout]`), the same customers on
//! every replica ([`cohort`]); guards step the share back to 0 by
//! themselves ([`guard`]), on every replica at once through the lock store
//! ([`trip`]), until the configuration changes the share.
//!
//! [`Rollout`] is what outlives reloads: each tenant's operation's guard
//! windows and trips. A request reads its share from its own generation
//! (its tenant's `rollout`) and asks [`Rollout::share_in_force`] what is
//! left of it; the request phase reports each answer to a rollout's
//! customer, the shadow each comparison.

pub mod cohort;
pub mod guard;
pub mod status;
pub mod trip;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub use cohort::{Cohort, cohort, in_share};
use guard::{Crossed, Guard};
use status::{GuardSettings, GuardState, OperationStatus, RolloutStatus};
use trip::{Trip, note_name};

use crate::clock::{Clock, Millis, iso};
use crate::config::{Config, GuardConfig, RouteMode};
use crate::domain::Operation;
use crate::locks::Store;
use crate::metrics::{Metrics, latency_buckets};

/// How often a replica asks the store whether another one tripped a
/// guard, per tenant and operation: at most one store read a second each,
/// made by the first call after the second is up. Calls that come while
/// it asks wait for the answer, rather than pass on a share it may be
/// about to withdraw.
const ASK_STORE_EVERY: Millis = 1_000;

/// The rollout of every tenant's operations. Cheap to clone.
#[derive(Clone)]
pub struct Rollout {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Clock,
    metrics: Arc<Metrics>,
    /// The route latency histogram's bounds, for the p99 guard.
    bounds: Arc<[f64]>,
    state: Mutex<State>,
}

struct State {
    /// `[rollout.guard]`, as `GET /rollout` shows it.
    guard: GuardConfig,
    pairs: BTreeMap<(String, Operation), Pair>,
    /// The tenants configured, whose series the metrics show.
    tenants: BTreeSet<String>,
}

/// One tenant's operation with a share above 0.
struct Pair {
    configured: f64,
    mode: RouteMode,
    /// The tenant's limits (`[rollout.guard]` with its own over it).
    limits: GuardConfig,
    guard: Guard,
    /// The trip in force (for `configured`).
    trip: Option<Trip>,
    /// The latest trip, in force or not.
    last_trip: Option<Trip>,
    /// When the store was last asked for another replica's trip; held
    /// while it is being asked.
    asked_at: Arc<tokio::sync::Mutex<Option<Millis>>>,
}

impl Pair {
    fn in_force(&self) -> f64 {
        if self.trip.is_some() { 0.0 } else { self.configured }
    }
}

impl Rollout {
    /// `request_timeout` bounds the latency buckets, as it does the route
    /// histogram's.
    pub fn new(store: Store, clock: Clock, metrics: Arc<Metrics>, request_timeout: Duration) -> Self {
        Rollout {
            inner: Arc::new(Inner {
                store,
                clock,
                metrics,
                bounds: latency_buckets(request_timeout).into(),
                state: Mutex::new(State {
                    guard: GuardConfig {
                        window: Duration::from_secs(300),
                        min_samples: 1,
                        max_mismatch_rate: 1.0,
                        max_error_rate: 1.0,
                        max_p99_added: Duration::MAX,
                    },
                    pairs: BTreeMap::new(),
                    tenants: BTreeSet::new(),
                }),
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn new_guard(&self, limits: &GuardConfig) -> Guard {
        Guard::new(limits.clone(), self.inner.bounds.clone(), self.inner.clock.now())
    }

    /// Takes the shares and guards of `cfg` (at start, and on each
    /// reload). A share that changed starts afresh: its trip, if any, no
    /// longer holds, here or (its note deleted) anywhere; new guard
    /// settings start new windows.
    pub fn configure(&self, cfg: &Config) {
        let mut wanted = BTreeMap::new();
        for t in &cfg.tenants {
            for (op, share) in t.rollout.set() {
                wanted.insert((t.name.clone(), op), (share, t.routes.mode(op), &t.rollout_guard));
            }
        }
        let mut left_behind = Vec::new();
        {
            let mut st = self.state();
            st.guard = cfg.rollout_guard.clone();
            let gone: Vec<_> = st.pairs.keys().filter(|k| !wanted.contains_key(*k)).cloned().collect();
            for key in gone {
                if let Some(p) = st.pairs.remove(&key) {
                    left_behind.push((key.0, note_name(key.1, p.configured)));
                }
            }
            for ((tenant, op), (share, mode, limits)) in wanted {
                let fresh = self.new_guard(limits);
                let pair = st.pairs.entry((tenant.clone(), op)).or_insert_with(|| Pair {
                    configured: share,
                    mode,
                    limits: limits.clone(),
                    guard: fresh.clone(),
                    trip: None,
                    last_trip: None,
                    asked_at: Arc::default(),
                });
                pair.mode = mode;
                if pair.configured != share {
                    left_behind.push((tenant.clone(), note_name(op, pair.configured)));
                    pair.configured = share;
                    pair.trip = None;
                    pair.asked_at = Arc::default();
                    pair.guard = fresh;
                } else if pair.limits != *limits {
                    pair.guard = fresh;
                }
                pair.limits = limits.clone();
            }
            self.show_shares(&mut st, cfg);
        }
        self.forget_notes(left_behind);
    }

    /// Every configured tenant's share in force per operation (0 without
    /// a rollout); a tenant no longer configured loses its series.
    fn show_shares(&self, st: &mut State, cfg: &Config) {
        let m = &self.inner.metrics;
        let operations: Vec<&'static str> = Operation::ALL.iter().map(|o| o.name()).collect();
        let tenants: BTreeSet<String> = cfg.tenants.iter().map(|t| t.name.clone()).collect();
        for gone in st.tenants.difference(&tenants) {
            for op in &operations {
                m.rollout_ended(gone, op);
            }
        }
        for tenant in &tenants {
            m.rollout_tenant(tenant, &operations);
            for op in Operation::ALL {
                let share = st.pairs.get(&(tenant.clone(), op)).map_or(0.0, Pair::in_force);
                m.rollout_share(tenant, op.name(), share);
            }
        }
        st.tenants = tenants;
    }

    /// Deletes the notes of trips whose share is no longer configured, off
    /// the caller's thread (a reload runs on a blocking thread).
    fn forget_notes(&self, notes: Vec<(String, String)>) {
        if notes.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let store = self.inner.store.clone();
        runtime.spawn(async move {
            for (tenant, name) in notes {
                if let Err(e) = store.delete_note(&tenant, &name).await {
                    let error = crate::error::Failure::from(e);
                    tracing::warn!(tenant, note = %name, error = %error.chain(), "a rollout trip of a share no longer configured could not be deleted: a return to that share would find it");
                }
            }
        });
    }

    /// What is left of `configured` (the share the request's
    /// configuration gives `tenant`'s `op`): 0 when a guard tripped at
    /// that share, here or on another replica.
    pub async fn share_in_force(&self, tenant: &str, op: Operation, configured: f64) -> f64 {
        let asked_at = match self.in_force(tenant, op, configured) {
            Err(share) => return share,
            Ok(asked_at) => asked_at,
        };
        let mut asked_at = asked_at.lock().await;
        // Another call may have learned of a trip while this one waited.
        if let Err(share) = self.in_force(tenant, op, configured) {
            return share;
        }
        let now = self.inner.clock.now();
        if asked_at.is_some_and(|at| (at..at + ASK_STORE_EVERY).contains(&now)) {
            return configured;
        }
        *asked_at = Some(now);
        if self.learn_trip(tenant, op, configured).await {
            return 0.0;
        }
        configured
    }

    /// The share in force when this replica knows it without asking the
    /// store (`Err`); otherwise what to hold while asking (`Ok`).
    fn in_force(
        &self,
        tenant: &str,
        op: Operation,
        configured: f64,
    ) -> Result<Arc<tokio::sync::Mutex<Option<Millis>>>, f64> {
        let st = self.state();
        match st.pairs.get(&(tenant.to_owned(), op)) {
            None => Err(configured),
            // A request on a configuration other than the rollout's (a
            // reload under way): its own share, untripped.
            Some(p) if p.configured != configured => Err(configured),
            Some(p) if p.trip.is_some() => Err(0.0),
            Some(p) => Ok(p.asked_at.clone()),
        }
    }

    /// Asks the store for a trip of `op` at `share`; true when there is
    /// one (it holds here from now on).
    async fn learn_trip(&self, tenant: &str, op: Operation, share: f64) -> bool {
        let text = match self.inner.store.read_note(tenant, &note_name(op, share)).await {
            Ok(Some(text)) => text,
            Ok(None) => return false,
            Err(e) => {
                let error = crate::error::Failure::from(e);
                tracing::debug!(tenant, operation = op.name(), error = %error.chain(), "cannot ask the store for a rollout trip; asking again in a second");
                return false;
            }
        };
        let Ok(trip) = serde_json::from_str::<Trip>(&text) else {
            tracing::warn!(
                tenant,
                operation = op.name(),
                "a rollout trip in the store is unreadable; ignored"
            );
            return false;
        };
        let mut st = self.state();
        let Some(p) = st
            .pairs
            .get_mut(&(tenant.to_owned(), op))
            .filter(|p| p.configured == share)
        else {
            return false;
        };
        if p.trip.is_none() {
            tracing::warn!(tenant, operation = op.name(), guard = %trip.guard, share, tripped_at = %trip.at, "rollout guard tripped on another replica: the share is 0 here too until the configuration changes it");
            p.trip = Some(trip.clone());
            p.last_trip = Some(trip);
            self.inner.metrics.rollout_share(tenant, op.name(), 0.0);
        }
        true
    }

    /// An answer to a customer of `cohort` (the request phase).
    pub async fn answered(&self, tenant: &str, op: Operation, cohort: Cohort, status: u16, seconds: f64) {
        let error = status >= 500;
        self.inner
            .metrics
            .rollout_answer(tenant, op.name(), cohort.name(), error);
        let now = self.inner.clock.now();
        let tripped = self.judge(tenant, op, |g| g.answered(now, cohort, error, seconds));
        self.tell_others(tenant, op, tripped).await;
    }

    /// A shadow comparison of a customer outside the share (the shadow).
    pub async fn compared(&self, tenant: &str, op: Operation, mismatch: bool) {
        let now = self.inner.clock.now();
        let tripped = self.judge(tenant, op, |g| g.compared(now, mismatch));
        self.tell_others(tenant, op, tripped).await;
    }

    /// Counts one call in the pair's guard; when a limit is crossed and no
    /// trip holds yet, trips it here (at once: the next call already sees
    /// 0) and returns it for the other replicas.
    fn judge(&self, tenant: &str, op: Operation, count: impl FnOnce(&mut Guard) -> Option<Crossed>) -> Option<Trip> {
        let mut st = self.state();
        let p = st.pairs.get_mut(&(tenant.to_owned(), op))?;
        let crossed = count(&mut p.guard)?;
        if p.trip.is_some() {
            return None;
        }
        let trip = Trip {
            share: p.configured,
            guard: crossed.guard.name().to_owned(),
            at: iso(self.inner.clock.now()),
            figures: crossed.figures,
            here: true,
        };
        p.trip = Some(trip.clone());
        p.last_trip = Some(trip.clone());
        let m = &self.inner.metrics;
        m.rollout_trip(tenant, op.name(), crossed.guard.name());
        m.rollout_share(tenant, op.name(), 0.0);
        tracing::warn!(
            tenant,
            operation = op.name(),
            guard = crossed.guard.name(),
            share = trip.share,
            figures = %serde_json::to_string(&trip.figures).unwrap_or_default(),
            "rollout guard tripped: the share falls to 0 on every replica until the configuration changes it"
        );
        Some(trip)
    }

    /// Writes a trip made here where every replica asks for it.
    async fn tell_others(&self, tenant: &str, op: Operation, trip: Option<Trip>) {
        let Some(trip) = trip else { return };
        let text = serde_json::to_string(&trip).unwrap_or_default();
        if let Err(e) = self
            .inner
            .store
            .write_note(tenant, &note_name(op, trip.share), &text)
            .await
        {
            let error = crate::error::Failure::from(e);
            tracing::error!(tenant, operation = op.name(), error = %error.chain(), "the rollout trip holds here but could not be written to the store: other replicas keep the share");
        }
    }

    /// This replica's view of every rollout, for `GET /rollout`.
    pub fn status(&self) -> RolloutStatus {
        let now = self.inner.clock.now();
        let mut st = self.state();
        let guard = GuardSettings::from(&st.guard);
        let operations = st
            .pairs
            .iter_mut()
            .map(|((tenant, op), p)| {
                let (window, last_window) = p.guard.figures(now);
                OperationStatus {
                    tenant: tenant.clone(),
                    operation: op.name().to_owned(),
                    mode: p.mode.name().to_owned(),
                    configured_share: p.configured,
                    share_in_force: p.in_force(),
                    guard: GuardState {
                        state: if p.trip.is_some() { "tripped" } else { "watching" }.to_owned(),
                        limits: Some(GuardSettings::from(&p.limits)),
                        window,
                        last_window,
                    },
                    last_trip: p.last_trip.clone(),
                }
            })
            .collect();
        RolloutStatus {
            at: iso(now),
            guard,
            operations,
        }
    }
}
