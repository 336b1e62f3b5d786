//! Validation: the raw configuration in, the runtime configuration out,
//! every problem on the way collected by key (located afterwards, from
//! where each key was set). One file per group of sections.

mod rollout;
mod service;
mod tenants;
mod traffic;

use super::errors::Errors;
use super::raw::RawConfig;
use super::runtime::Config;

impl RawConfig {
    /// Checks and converts every section; the problems go to `e`. The
    /// configuration returned is meant for use only when `e` stays empty.
    pub(super) fn validate(&self, e: &mut Errors) -> Config {
        let server = service::server(&self.server, e);
        let admin = self.admin.enabled.then(|| e.addr("admin.listen", &self.admin.listen));
        let (store, durability) = service::store(&self.store, e);
        let locks = service::locks(&self.locks, e);
        let log = service::log(&self.log, e);
        let telemetry = service::telemetry(&self.telemetry, e);
        let upstream_tls = service::upstream_tls(&self.upstream_tls, e);
        let passthrough = traffic::passthrough(&self.passthrough, e);
        let record = traffic::record(&self.record, e);
        let redaction = traffic::redaction(&self.record, e);
        let shadow = traffic::shadow(&self.shadow, e);
        let rollout_guard = rollout::guard(&self.rollout.guard, e);
        let (routes, tenants) = tenants::tenants(self, &rollout_guard, passthrough.is_some(), e);
        Config {
            fingerprint: self.fingerprint.clone(),
            server,
            admin,
            store,
            durability,
            locks,
            log,
            passthrough,
            routes,
            upstream_tls,
            record,
            redaction,
            shadow,
            rollout_guard,
            telemetry,
            tenants,
        }
    }
}
