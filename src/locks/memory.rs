//! The embedded store (`memory://`): the same contract as Redis inside the
//! process, for the demo and single-instance deployments. Records expire on
//! the adapter's clock. Nothing survives a restart: use Redis for that.
//!
//! A bounded one ([`MemoryStore::bounded`], shadow's private store) also
//! holds at most so many bytes of locks and claims: past that the oldest
//! go first, whatever their expiry, so a flood of large references cannot
//! grow it without end.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use super::{Claim, Fault, LockRecord, NewTerms, OpAttempt, OpKind, OpOutcome, PendingRelease, Relock, machine};
use crate::clock::{Clock, Millis};

struct Op {
    done: Option<String>,
    lease_until: Millis,
    attempt: String,
    /// The attempt that opened the claim.
    first: String,
}

struct Entry<T> {
    value: T,
    gone_at: Millis,
}

type LockKey = (String, String);
type OpKey = (String, &'static str, String);

#[derive(Default)]
struct Maps {
    locks: HashMap<LockKey, Entry<LockRecord>>,
    ops: HashMap<OpKey, Entry<Op>>,
    /// Per tenant: (due, the release).
    releases: HashMap<String, Vec<(Millis, PendingRelease)>>,
    /// (tenant, name) → a note ([`MemoryStore::write_note`]).
    notes: HashMap<(String, String), String>,
    writes_since_sweep: u32,
    /// Bounded stores only: what was written, oldest first, with its size.
    written: VecDeque<(Written, usize)>,
    bytes: usize,
}

/// A key in the order it was written (bounded stores).
enum Written {
    Lock(LockKey),
    Op(OpKey),
}

pub struct MemoryStore {
    clock: Clock,
    maps: Mutex<Maps>,
    max_bytes: Option<usize>,
}

const SWEEP_EVERY: u32 = 1024;

/// What an entry costs beyond its strings: the maps' and the record's own
/// overhead, roughly.
const ENTRY_OVERHEAD: usize = 160;

fn lock_bytes(key: &LockKey, rec: &LockRecord) -> usize {
    ENTRY_OVERHEAD
        + key.0.len()
        + key.1.len()
        + rec.tenant.len()
        + rec.reference.len()
        + rec.customer_id.len()
        + rec.session_key.len()
        + rec.codes.iter().map(String::len).sum::<usize>()
        + rec.used_by.as_ref().map_or(0, String::len)
        + rec.transaction_id.as_ref().map_or(0, String::len)
}

fn op_bytes(key: &OpKey, op: &Op) -> usize {
    ENTRY_OVERHEAD
        + key.0.len()
        + key.2.len()
        + op.attempt.len()
        + op.first.len()
        + op.done.as_ref().map_or(0, String::len)
}

impl MemoryStore {
    pub fn new(clock: Clock) -> Self {
        MemoryStore {
            clock,
            maps: Mutex::new(Maps::default()),
            max_bytes: None,
        }
    }

    /// A store holding at most about `max_bytes` of locks and claims.
    pub fn bounded(clock: Clock, max_bytes: usize) -> Self {
        MemoryStore {
            max_bytes: Some(max_bytes),
            ..MemoryStore::new(clock)
        }
    }

    /// Accounts for a new entry and evicts the oldest past the budget.
    fn written(&self, m: &mut Maps, what: Written, bytes: usize) {
        let Some(max) = self.max_bytes else {
            return;
        };
        m.bytes += bytes;
        m.written.push_back((what, bytes));
        while m.bytes > max {
            let Some((old, size)) = m.written.pop_front() else {
                break;
            };
            m.bytes = m.bytes.saturating_sub(size);
            match old {
                Written::Lock(k) => {
                    m.locks.remove(&k);
                }
                Written::Op(k) => {
                    m.ops.remove(&k);
                }
            }
        }
    }

    fn maps(&self) -> std::sync::MutexGuard<'_, Maps> {
        // The maps are consistent after every statement; a panic elsewhere
        // must not take the store down with it.
        self.maps.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn after_write(&self, m: &mut Maps) {
        m.writes_since_sweep += 1;
        if m.writes_since_sweep >= SWEEP_EVERY {
            m.writes_since_sweep = 0;
            let now = self.clock.now();
            m.locks.retain(|_, e| e.gone_at > now);
            m.ops.retain(|_, e| e.gone_at > now);
            // What expired no longer counts against a bounded store's budget.
            let Maps {
                locks, ops, written, ..
            } = &mut *m;
            written.retain(|(w, _)| match w {
                Written::Lock(k) => locks.contains_key(k),
                Written::Op(k) => ops.contains_key(k),
            });
            m.bytes = m.written.iter().map(|(_, b)| b).sum();
        }
    }

    pub fn create(&self, rec: &LockRecord, keep: Duration) -> Result<(), Fault> {
        let now = self.clock.now();
        let mut m = self.maps();
        let key = (rec.tenant.clone(), rec.reference.clone());
        if m.locks.get(&key).is_some_and(|e| e.gone_at > now) {
            return Err(Fault::Corrupt("lock reference collision".into()));
        }
        let bytes = lock_bytes(&key, rec);
        m.locks.insert(
            key.clone(),
            Entry {
                value: rec.clone(),
                gone_at: now + keep.as_millis() as i64,
            },
        );
        self.written(&mut m, Written::Lock(key), bytes);
        self.after_write(&mut m);
        Ok(())
    }

    pub fn get(&self, tenant: &str, reference: &str) -> Option<LockRecord> {
        let now = self.clock.now();
        let m = self.maps();
        m.locks
            .get(&(tenant.to_owned(), reference.to_owned()))
            .filter(|e| e.gone_at > now)
            .map(|e| e.value.clone())
    }

    /// Runs a transition on a live record.
    pub fn with<R>(&self, tenant: &str, reference: &str, f: impl FnOnce(&mut LockRecord) -> R) -> Option<R> {
        let now = self.clock.now();
        let mut m = self.maps();
        let e = m
            .locks
            .get_mut(&(tenant.to_owned(), reference.to_owned()))
            .filter(|e| e.gone_at > now)?;
        Some(f(&mut e.value))
    }

    /// Re-validation into a live lock: new terms, and kept for
    /// `terms.keep` from now, in one step.
    pub fn relock(&self, tenant: &str, reference: &str, attempt: &str, terms: &NewTerms<'_>) -> Relock {
        let clock_now = self.clock.now();
        let mut m = self.maps();
        let Some(e) = m
            .locks
            .get_mut(&(tenant.to_owned(), reference.to_owned()))
            .filter(|e| e.gone_at > clock_now)
        else {
            return Relock::Missing;
        };
        let outcome = machine::relock(&mut e.value, attempt, terms);
        if outcome == Relock::Updated {
            e.gone_at = clock_now + terms.keep.as_millis() as i64;
        }
        outcome
    }

    pub fn defer_release(&self, r: &PendingRelease, due: Millis) {
        let mut m = self.maps();
        let list = m.releases.entry(r.tenant.clone()).or_default();
        list.retain(|(_, x)| x != r);
        list.push((due, r.clone()));
    }

    pub fn take_due_releases(
        &self,
        tenant: &str,
        now: Millis,
        lease_until: Millis,
        limit: usize,
    ) -> Vec<PendingRelease> {
        let mut m = self.maps();
        let Some(list) = m.releases.get_mut(tenant) else {
            return Vec::new();
        };
        let mut taken = Vec::new();
        for (due, r) in list.iter_mut() {
            if *due <= now && taken.len() < limit {
                *due = lease_until;
                taken.push(r.clone());
            }
        }
        taken
    }

    pub fn finish_release(&self, r: &PendingRelease) {
        let mut m = self.maps();
        if let Some(list) = m.releases.get_mut(&r.tenant) {
            list.retain(|(_, x)| x != r);
        }
    }

    pub fn claim(&self, op: &OpAttempt<'_>, now: Millis, lease_until: Millis) -> Claim {
        let mut m = self.maps();
        let key = op_key(op);
        let clock_now = self.clock.now();
        match m.ops.get_mut(&key).filter(|e| e.gone_at > clock_now) {
            None => {
                let value = Op {
                    done: None,
                    lease_until,
                    attempt: op.attempt.to_owned(),
                    first: op.attempt.to_owned(),
                };
                // A settled result is at most as large again as the claim.
                let bytes = 2 * op_bytes(&key, &value);
                m.ops.insert(
                    key.clone(),
                    Entry {
                        value,
                        gone_at: clock_now + op.keep.as_millis() as i64,
                    },
                );
                self.written(&mut m, Written::Op(key), bytes);
                self.after_write(&mut m);
                Claim::Claimed
            }
            Some(e) => match &e.value.done {
                Some(result) => Claim::Done(result.clone()),
                None if e.value.lease_until > now => Claim::Busy,
                None => {
                    e.value.lease_until = lease_until;
                    e.value.attempt = op.attempt.to_owned();
                    Claim::Resumed {
                        first: e.value.first.clone(),
                    }
                }
            },
        }
    }

    pub fn forget(&self, tenant: &str, kind: OpKind, id: &str) {
        self.maps()
            .ops
            .remove(&(tenant.to_owned(), kind.as_str(), id.to_owned()));
    }

    pub fn outcome(&self, tenant: &str, kind: OpKind, id: &str) -> OpOutcome {
        let now = self.clock.now();
        let m = self.maps();
        match m
            .ops
            .get(&(tenant.to_owned(), kind.as_str(), id.to_owned()))
            .filter(|e| e.gone_at > now)
        {
            None => OpOutcome::Unknown,
            Some(e) => match &e.value.done {
                Some(r) => OpOutcome::Done(r.clone()),
                None => OpOutcome::Pending,
            },
        }
    }

    /// Notes are few and small (a tripped rollout guard), kept until
    /// deleted: not counted against a bounded store's bytes.
    pub fn read_note(&self, tenant: &str, name: &str) -> Option<String> {
        self.maps().notes.get(&(tenant.to_owned(), name.to_owned())).cloned()
    }

    pub fn write_note(&self, tenant: &str, name: &str, value: &str) {
        self.maps()
            .notes
            .insert((tenant.to_owned(), name.to_owned()), value.to_owned());
    }

    pub fn delete_note(&self, tenant: &str, name: &str) {
        self.maps().notes.remove(&(tenant.to_owned(), name.to_owned()));
    }

    pub fn settle(&self, op: &OpAttempt<'_>, result: Option<&str>) {
        let mut m = self.maps();
        let key = op_key(op);
        let now = self.clock.now();
        let Some(e) = m.ops.get_mut(&key).filter(|e| e.gone_at > now) else {
            return;
        };
        if e.value.attempt != op.attempt || e.value.done.is_some() {
            return;
        }
        match result {
            Some(r) => {
                e.value.done = Some(r.to_owned());
                e.gone_at = now + op.keep.as_millis() as i64;
            }
            None => {
                m.ops.remove(&key);
            }
        }
    }
}

fn op_key(op: &OpAttempt<'_>) -> OpKey {
    (op.tenant.to_owned(), op.kind.as_str(), op.id.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(reference: String) -> LockRecord {
        LockRecord {
            tenant: "shop".into(),
            reference,
            customer_id: "c".into(),
            session_key: "k".into(),
            codes: vec!["A".into()],
            expires_at: 1_000_000,
            ..LockRecord::default()
        }
    }

    #[test]
    fn a_bounded_store_keeps_the_newest_records_within_its_bytes() {
        let store = MemoryStore::bounded(Clock::manual(0), 1 << 20);
        // 300 locks whose references are 100 KB each: 30 MB offered.
        for i in 0..300 {
            let reference = format!("{i:03}{}", "r".repeat(100_000));
            store.create(&lock(reference), Duration::from_secs(3600)).unwrap();
        }
        let m = store.maps();
        assert!(m.bytes <= 1 << 20, "{} bytes kept", m.bytes);
        assert!(m.locks.len() < 12, "{} locks kept", m.locks.len());
        drop(m);
        let newest = format!("299{}", "r".repeat(100_000));
        let oldest = format!("000{}", "r".repeat(100_000));
        assert!(store.get("shop", &newest).is_some(), "the newest stays");
        assert!(store.get("shop", &oldest).is_none(), "the oldest went first");
    }

    #[test]
    fn an_unbounded_store_keeps_everything_until_it_expires() {
        let store = MemoryStore::new(Clock::manual(0));
        for i in 0..50 {
            store.create(&lock(format!("{i}")), Duration::from_secs(1)).unwrap();
        }
        assert_eq!(store.maps().locks.len(), 50);
        assert_eq!(store.maps().bytes, 0, "no accounting without a bound");
    }
}
