//! A lock as the store keeps it: the Gameball reference, the Voucherify
//! session it stands for, the codes held, the customer, and where it is in
//! its life (`super::machine`). In Redis it is a hash of short fields.

use std::collections::HashMap;

use super::Fault;
use crate::clock::Millis;
use crate::domain::{LockState, LockSummary};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LockRecord {
    pub tenant: String,
    pub reference: String,
    pub customer_id: String,
    pub session_key: String,
    pub codes: Vec<String>,
    /// The order amount the coupons were validated against (minor units).
    pub amount_minor: Option<i64>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub state: LockState,
    /// While `burning`: until when this attempt owns the lock.
    pub lease_until: Option<Millis>,
    /// While `burning`: which attempt owns it.
    pub attempt: Option<String>,
    /// What burned (or is burning) it: the Voucherify order source id.
    pub used_by: Option<String>,
    pub used_at: Option<Millis>,
    pub transaction_id: Option<String>,
    pub released_at: Option<Millis>,
    /// Gameball's lock reference, when this lock also stands for coupons
    /// only Gameball has (`[migration] coupon_fallback`).
    pub gameball_reference: Option<String>,
    /// The codes Gameball holds under it.
    pub gameball_codes: Vec<String>,
}

impl LockRecord {
    /// What a client may see of it.
    pub fn summary(&self) -> LockSummary {
        LockSummary {
            customer_id: self.customer_id.clone(),
            codes: self.codes.clone(),
            state: self.state,
            created_at: self.created_at,
            expires_at: self.expires_at,
            used_at: self.used_at,
            released_at: self.released_at,
        }
    }

    /// When a finished lock ended: a released one at its release, any
    /// other at its expiry.
    pub fn ended_at(&self) -> Millis {
        self.summary().ended_at()
    }

    /// The Redis hash fields of this record.
    pub fn to_fields(&self) -> Vec<(&'static str, String)> {
        let mut f = vec![
            ("t", self.tenant.clone()),
            ("r", self.reference.clone()),
            ("c", self.customer_id.clone()),
            ("k", self.session_key.clone()),
            (
                "codes",
                serde_json::to_string(&self.codes).unwrap_or_else(|_| "[]".into()),
            ),
            ("ca", self.created_at.to_string()),
            ("ea", self.expires_at.to_string()),
            ("st", self.state.name().to_owned()),
        ];
        let mut opt = |k: &'static str, v: Option<String>| {
            if let Some(v) = v {
                f.push((k, v));
            }
        };
        opt("amt", self.amount_minor.map(|a| a.to_string()));
        opt("lease", self.lease_until.map(|a| a.to_string()));
        opt("att", self.attempt.clone());
        opt("by", self.used_by.clone());
        opt("ua", self.used_at.map(|a| a.to_string()));
        opt("tx", self.transaction_id.clone());
        opt("ra", self.released_at.map(|a| a.to_string()));
        opt("gb", self.gameball_reference.clone());
        opt(
            "gbc",
            (!self.gameball_codes.is_empty()).then(|| serde_json::to_string(&self.gameball_codes).unwrap_or_default()),
        );
        f
    }

    /// A record from its Redis hash fields.
    pub fn from_fields(f: &HashMap<String, String>) -> Result<Self, Fault> {
        let bad = |what: &str| Fault::Corrupt(format!("lock record field {what}"));
        let text = |k: &str| f.get(k).cloned();
        let num = |k: &str| -> Result<Option<i64>, Fault> {
            f.get(k).map(|v| v.parse::<i64>().map_err(|_| bad(k))).transpose()
        };
        Ok(LockRecord {
            tenant: text("t").ok_or_else(|| bad("t"))?,
            reference: text("r").ok_or_else(|| bad("r"))?,
            customer_id: text("c").ok_or_else(|| bad("c"))?,
            session_key: text("k").ok_or_else(|| bad("k"))?,
            codes: serde_json::from_str(f.get("codes").ok_or_else(|| bad("codes"))?).map_err(|_| bad("codes"))?,
            amount_minor: num("amt")?,
            created_at: num("ca")?.ok_or_else(|| bad("ca"))?,
            expires_at: num("ea")?.ok_or_else(|| bad("ea"))?,
            state: f
                .get("st")
                .and_then(|s| LockState::from_name(s))
                .ok_or_else(|| bad("st"))?,
            lease_until: num("lease")?,
            attempt: text("att"),
            used_by: text("by"),
            used_at: num("ua")?,
            transaction_id: text("tx"),
            released_at: num("ra")?,
            gameball_reference: text("gb"),
            gameball_codes: match f.get("gbc") {
                Some(list) => serde_json::from_str(list).map_err(|_| bad("gbc"))?,
                None => Vec::new(),
            },
        })
    }
}

/// A lock for the tests of the store's parts.
#[cfg(test)]
pub(super) fn sample() -> LockRecord {
    LockRecord {
        tenant: "shop".into(),
        reference: "r".into(),
        customer_id: "c".into(),
        session_key: "k".into(),
        codes: vec!["A".into(), "B".into()],
        amount_minor: Some(1000),
        created_at: 0,
        expires_at: 100,
        ..LockRecord::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut r = sample();
        r.state = LockState::Burning;
        r.lease_until = Some(5);
        r.attempt = Some("a".into());
        r.used_by = Some("order:1".into());
        r.gameball_reference = Some("g".into());
        r.gameball_codes = vec!["GB".into()];
        let fields: HashMap<String, String> = r.to_fields().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        assert_eq!(LockRecord::from_fields(&fields).unwrap(), r);
    }
}
