//! The shadow's reference book: what each lock Gameball handed out covers,
//! as the shadow saw it at the locking validation. A later burn, order,
//! release or lock-details read of that Gameball reference is compared
//! with it. It lives in memory on the replica that saw the lock, never in
//! the lock store, so nothing in there can be taken for a real lock.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::clock::Millis;

/// Entries kept at most; the oldest go first.
const CAPACITY: usize = 100_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Ended {
    Burned { at: Millis },
    Released { at: Millis },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub customer_id: String,
    pub codes: Vec<String>,
    pub amount_minor: Option<i64>,
    pub created_at: Millis,
    pub expires_at: Millis,
    pub ended: Option<Ended>,
}

#[derive(Default)]
pub struct Book {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// By (tenant, Gameball reference).
    entries: HashMap<(String, String), Entry>,
    order: VecDeque<(String, String)>,
}

impl Book {
    pub fn insert(&self, tenant: &str, reference: &str, entry: Entry) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let key = (tenant.to_owned(), reference.to_owned());
        if g.entries.insert(key.clone(), entry).is_none() {
            g.order.push_back(key);
        }
        while g.entries.len() > CAPACITY {
            match g.order.pop_front() {
                Some(old) => {
                    g.entries.remove(&old);
                }
                None => break,
            }
        }
    }

    pub fn get(&self, tenant: &str, reference: &str) -> Option<Entry> {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        g.entries.get(&(tenant.to_owned(), reference.to_owned())).cloned()
    }

    /// Marks the lock ended, if it is known and still open.
    pub fn end(&self, tenant: &str, reference: &str, ended: Ended) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = g.entries.get_mut(&(tenant.to_owned(), reference.to_owned()))
            && e.ended.is_none()
        {
            e.ended = Some(ended);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Entry {
        Entry {
            customer_id: "c".into(),
            codes: vec!["A".into()],
            amount_minor: None,
            created_at: 0,
            expires_at: 10,
            ended: None,
        }
    }

    #[test]
    fn entries_are_per_tenant_and_end_once() {
        let b = Book::default();
        b.insert("shop", "R", entry());
        assert!(b.get("other", "R").is_none(), "one merchant never sees another's");
        b.end("shop", "R", Ended::Released { at: 5 });
        b.end("shop", "R", Ended::Burned { at: 6 });
        assert_eq!(b.get("shop", "R").unwrap().ended, Some(Ended::Released { at: 5 }));
    }

    #[test]
    fn the_oldest_entries_go_first_past_capacity() {
        let b = Book::default();
        for i in 0..CAPACITY + 2 {
            b.insert("shop", &i.to_string(), entry());
        }
        assert!(b.get("shop", "0").is_none());
        assert!(b.get("shop", "1").is_none());
        assert!(b.get("shop", &(CAPACITY + 1).to_string()).is_some());
    }
}
