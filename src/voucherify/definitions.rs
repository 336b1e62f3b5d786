//! Voucher definitions for lock details, kept per tenant for a few seconds
//! (`[tenants.NAME.voucherify] definitions_ttl`, 0 turns it off).
//!
//! Lock details show each coupon's terms: its `GET /v1/vouchers/{code}`
//! and the validation rules it names. Those change when someone edits the
//! campaign, not per checkout, so a repeated read within the TTL reuses
//! them and makes no Voucherify call. A definition is dropped sooner when a
//! validation or redemption of that code comes back in a different state
//! than the last one seen for it (applicable, then disabled or expired or
//! gone; or the reverse): the coupon has changed, so its next lock-details
//! read asks Voucherify again. Every expiry reads the injectable clock.
//!
//! A read that began before a drop does not put back what it read (the
//! definition may be the one just found stale): each entry is written only
//! if no drop happened since that read began.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ValidationRule, Voucher};
use crate::clock::Millis;

/// More codes than this and the expired ones are swept; still full, the
/// map starts again (a bound on memory, not a policy).
const MAX_ENTRIES: usize = 10_000;

/// One code's definition: `voucher` is `None` for a code Voucherify does
/// not know.
#[derive(Debug, Clone, Default)]
pub struct Definition {
    pub voucher: Option<Voucher>,
    pub rules: Vec<ValidationRule>,
}

struct Entry {
    def: Arc<Definition>,
    until: Millis,
    /// The state (status, error key) the last validation or redemption of
    /// the code found.
    seen: Option<(Box<str>, Box<str>)>,
}

pub struct Definitions {
    ttl_ms: i64,
    entries: Mutex<HashMap<String, Entry>>,
    /// Counts drops, so a read that began before one does not write back.
    epoch: AtomicU64,
}

impl std::fmt::Debug for Definitions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Definitions")
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

/// Where a read began, for [`Definitions::put`].
#[derive(Debug, Clone, Copy)]
pub struct ReadStart(u64);

impl Definitions {
    pub fn new(ttl: Duration) -> Self {
        Definitions {
            ttl_ms: ttl.as_millis().min(i64::MAX as u128) as i64,
            entries: Mutex::new(HashMap::new()),
            epoch: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.ttl_ms > 0
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The definition of `code` if one is kept and fresh at `now`.
    pub fn get(&self, code: &str, now: Millis) -> Option<Arc<Definition>> {
        if !self.enabled() {
            return None;
        }
        let mut map = self.map();
        match map.get(code) {
            Some(e) if e.until > now => Some(e.def.clone()),
            Some(_) => {
                map.remove(code);
                None
            }
            None => None,
        }
    }

    /// Marks the start of a read from Voucherify.
    pub fn read_start(&self) -> ReadStart {
        ReadStart(self.epoch.load(Ordering::Acquire))
    }

    /// Keeps what a read that began at `start` found, unless a drop
    /// happened since.
    pub fn put(&self, code: &str, def: Arc<Definition>, start: ReadStart, now: Millis) {
        if !self.enabled() {
            return;
        }
        let mut map = self.map();
        if self.epoch.load(Ordering::Acquire) != start.0 {
            return;
        }
        if map.len() >= MAX_ENTRIES && !map.contains_key(code) {
            map.retain(|_, e| e.until > now);
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
        }
        map.insert(
            code.to_owned(),
            Entry {
                def,
                until: now.saturating_add(self.ttl_ms),
                seen: None,
            },
        );
    }

    /// A validation or redemption found `code` with `status` and error
    /// `key` ("" for none): a change from the last state seen drops the
    /// definition.
    pub fn observe(&self, code: &str, status: &str, key: &str) {
        if !self.enabled() {
            return;
        }
        let mut map = self.map();
        let Some(entry) = map.get_mut(code) else {
            return;
        };
        match &entry.seen {
            Some((s, k)) if **s == *status && **k == *key => {}
            Some(_) => {
                map.remove(code);
                self.epoch.fetch_add(1, Ordering::AcqRel);
            }
            None => entry.seen = Some((status.into(), key.into())),
        }
    }

    /// Drops `code`'s definition (a redemption Voucherify refused).
    pub fn forget(&self, code: &str) {
        if !self.enabled() {
            return;
        }
        if self.map().remove(code).is_some() {
            self.epoch.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// How many definitions are kept (tests, metrics).
    pub fn len(&self) -> usize {
        self.map().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(code: &str) -> Arc<Definition> {
        Arc::new(Definition {
            voucher: Some(Voucher {
                code: code.into(),
                ..Default::default()
            }),
            rules: Vec::new(),
        })
    }

    #[test]
    fn a_definition_is_kept_for_the_ttl() {
        let d = Definitions::new(Duration::from_secs(5));
        assert!(d.get("A", 0).is_none());
        d.put("A", def("A"), d.read_start(), 1_000);
        assert!(d.get("A", 5_999).is_some());
        assert!(d.get("A", 6_000).is_none(), "expired at the TTL");
        assert!(d.is_empty(), "an expired entry is dropped when read");
    }

    #[test]
    fn a_changed_state_drops_the_definition() {
        let d = Definitions::new(Duration::from_secs(5));
        d.put("A", def("A"), d.read_start(), 0);
        d.observe("A", "APPLICABLE", "");
        d.observe("A", "APPLICABLE", "");
        assert!(d.get("A", 1).is_some(), "the same state keeps it");
        d.observe("A", "INAPPLICABLE", "voucher_disabled");
        assert!(d.get("A", 1).is_none());
    }

    #[test]
    fn a_read_that_began_before_a_drop_is_not_kept() {
        let d = Definitions::new(Duration::from_secs(5));
        d.put("A", def("A"), d.read_start(), 0);
        let start = d.read_start();
        d.forget("A");
        d.put("A", def("A"), start, 1);
        assert!(d.get("A", 2).is_none());
        d.put("A", def("A"), d.read_start(), 3);
        assert!(d.get("A", 4).is_some());
    }

    #[test]
    fn zero_turns_it_off() {
        let d = Definitions::new(Duration::ZERO);
        d.put("A", def("A"), d.read_start(), 0);
        assert!(d.get("A", 0).is_none());
        assert!(d.is_empty());
    }

    #[test]
    fn the_map_is_bounded() {
        let d = Definitions::new(Duration::from_secs(5));
        for i in 0..MAX_ENTRIES + 10 {
            d.put(&format!("C{i}"), def("C"), d.read_start(), 0);
        }
        assert!(d.len() <= MAX_ENTRIES);
    }
}
