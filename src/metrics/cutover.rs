//! The cutover's series: the calls still sent to Gameball, by tenant,
//! operation and reason, and the Gameball fields couponbridge accepted
//! without acting on them. Each tenant configured at start has every known
//! label set from the first scrape.

use super::{GameballCall, Known, Metrics, UnusedField};

impl Metrics {
    pub(super) fn preset_cutover(&self, known: &Known) {
        for tenant in &known.tenants {
            for &(route, field) in &known.unused_fields {
                let _ = self.unused_fields.get_or_create(&UnusedField {
                    tenant: tenant.clone(),
                    route,
                    field,
                });
            }
            for &(operation, reason) in &known.gameball_calls {
                let _ = self.gameball_calls.get_or_create(&GameballCall {
                    tenant: tenant.clone(),
                    operation,
                    reason,
                });
            }
        }
    }

    pub fn gameball_call(&self, tenant: &str, operation: &'static str, reason: &'static str) {
        self.gameball_calls
            .get_or_create(&GameballCall {
                tenant: tenant.to_owned(),
                operation,
                reason,
            })
            .inc();
    }

    pub fn unused_field(&self, tenant: &str, route: &'static str, field: &'static str) {
        self.unused_fields
            .get_or_create(&UnusedField {
                tenant: tenant.to_owned(),
                route,
                field,
            })
            .inc();
    }
}
