//! The rollout's series: the share in force per tenant and operation, the
//! guards tripped, and each cohort's answers and errors. Every tenant's
//! every operation has them from the configuration that names the tenant
//! on (its share 0 until it has one), as every family is there from the
//! first scrape.

use super::{CohortAnswer, GuardTrip, Metrics, ROLLOUT_COHORTS, ROLLOUT_GUARDS, TenantOperation};

impl Metrics {
    /// Creates the tenant's series of each of `operations` at 0 (those it
    /// has already keep their values).
    pub fn rollout_tenant(&self, tenant: &str, operations: &[&'static str]) {
        for &operation in operations {
            let _ = self.rollout_share.get_or_create(&TenantOperation {
                tenant: tenant.to_owned(),
                operation,
            });
            for guard in ROLLOUT_GUARDS {
                let _ = self.rollout_trips.get_or_create(&GuardTrip {
                    tenant: tenant.to_owned(),
                    operation,
                    guard,
                });
            }
            for cohort in ROLLOUT_COHORTS {
                let key = CohortAnswer {
                    tenant: tenant.to_owned(),
                    operation,
                    cohort,
                };
                let _ = self.rollout_answers.get_or_create(&key);
                let _ = self.rollout_errors.get_or_create(&key);
            }
        }
    }

    /// The share in force (0: no rollout, or a guard tripped).
    pub fn rollout_share(&self, tenant: &str, operation: &'static str, share: f64) {
        self.rollout_share
            .get_or_create(&TenantOperation {
                tenant: tenant.to_owned(),
                operation,
            })
            .set(share);
    }

    /// The tenant is no longer configured: its share's series goes; the
    /// counters stay, as counters do.
    pub fn rollout_ended(&self, tenant: &str, operation: &'static str) {
        self.rollout_share.remove(&TenantOperation {
            tenant: tenant.to_owned(),
            operation,
        });
    }

    pub fn rollout_trip(&self, tenant: &str, operation: &'static str, guard: &'static str) {
        self.rollout_trips
            .get_or_create(&GuardTrip {
                tenant: tenant.to_owned(),
                operation,
                guard,
            })
            .inc();
    }

    /// One answer to a customer of `cohort`; `error` when it was a 5xx.
    pub fn rollout_answer(&self, tenant: &str, operation: &'static str, cohort: &'static str, error: bool) {
        let key = CohortAnswer {
            tenant: tenant.to_owned(),
            operation,
            cohort,
        };
        self.rollout_answers.get_or_create(&key).inc();
        if error {
            self.rollout_errors.get_or_create(&key).inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_has_every_rollout_series_from_the_start() {
        let m = Metrics::new();
        m.rollout_tenant("shop", &["validate", "orders"]);
        m.rollout_share("shop", "validate", 0.1);
        m.rollout_answer("shop", "validate", "translated", true);
        let text = m.render();
        for needle in [
            "couponbridge_rollout_share{tenant=\"shop\",operation=\"validate\"} 0.1",
            "couponbridge_rollout_share{tenant=\"shop\",operation=\"orders\"} 0",
            "couponbridge_rollout_guard_trips_total{tenant=\"shop\",operation=\"validate\",guard=\"p99_added\"} 0",
            "couponbridge_rollout_answers_total{tenant=\"shop\",operation=\"validate\",cohort=\"translated\"} 1",
            "couponbridge_rollout_errors_total{tenant=\"shop\",operation=\"validate\",cohort=\"translated\"} 1",
            "couponbridge_rollout_errors_total{tenant=\"shop\",operation=\"orders\",cohort=\"route_mode\"} 0",
        ] {
            assert!(text.contains(needle), "missing {needle} in\n{text}");
        }
        m.rollout_tenant("shop", &["validate"]);
        assert!(
            m.render()
                .contains("couponbridge_rollout_share{tenant=\"shop\",operation=\"validate\"} 0.1")
        );
        m.rollout_ended("shop", "validate");
        assert!(!m.render().contains("operation=\"validate\"} 0.1"));
    }
}
