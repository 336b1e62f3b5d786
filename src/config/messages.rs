//! `[tenants.NAME.messages]`: the tenant's own texts for invalid coupons.

use super::read::Table;
use crate::domain::InvalidReason;

/// Per-tenant overrides of the invalid-coupon `error` strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Messages {
    pub not_found: Option<String>,
    pub expired: Option<String>,
    pub not_active: Option<String>,
    pub disabled: Option<String>,
    pub unavailable: Option<String>,
    pub customer_not_eligible: Option<String>,
    pub order_conditions_not_met: Option<String>,
    pub not_combinable: Option<String>,
    pub invalid: Option<String>,
}

impl Messages {
    /// The `error` text for `reason`: the tenant's override, or the default.
    pub fn text(&self, reason: InvalidReason) -> String {
        let custom = match reason {
            InvalidReason::NotFound => &self.not_found,
            InvalidReason::Expired => &self.expired,
            InvalidReason::NotActive => &self.not_active,
            InvalidReason::Disabled => &self.disabled,
            InvalidReason::Unavailable => &self.unavailable,
            InvalidReason::CustomerNotEligible => &self.customer_not_eligible,
            InvalidReason::OrderConditionsNotMet => &self.order_conditions_not_met,
            InvalidReason::NotCombinable => &self.not_combinable,
            InvalidReason::Invalid => &self.invalid,
        };
        custom.clone().unwrap_or_else(|| reason.default_message().to_owned())
    }

    pub(super) fn read(t: &mut Table<'_>) -> Messages {
        let default = "the default message";
        Messages {
            not_found: t.get("not_found", default),
            expired: t.get("expired", default),
            not_active: t.get("not_active", default),
            disabled: t.get("disabled", default),
            unavailable: t.get("unavailable", default),
            customer_not_eligible: t.get("customer_not_eligible", default),
            order_conditions_not_met: t.get("order_conditions_not_met", default),
            not_combinable: t.get("not_combinable", default),
            invalid: t.get("invalid", default),
        }
    }
}
