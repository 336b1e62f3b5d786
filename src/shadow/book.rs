//! The shadow's reference book: what each lock Gameball handed out covers,
//! as the shadow saw it at the locking validation. A later burn, order,
//! release or lock-details read of that Gameball reference is compared
//! with it. It lives in memory on the replica that saw the lock, never in
//! the lock store, so nothing in there can be taken for a real lock.
//!
//! Comparisons run concurrently, but those of one Gameball reference run
//! in the order they were queued (a lock before its burn, a first burn
//! before a second): each takes its [`Turn`] when it is dequeued and waits
//! for the one before it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

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
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// By (tenant, Gameball reference).
    entries: HashMap<(String, String), Entry>,
    order: VecDeque<(String, String)>,
    /// The last comparison queued for each Gameball reference: its turn's
    /// number and the channel its end closes.
    turns: HashMap<String, (u64, watch::Receiver<()>)>,
    next_turn: u64,
}

/// One comparison's place in its reference's line; dropped when it ends.
pub struct Turn {
    inner: Arc<Mutex<Inner>>,
    reference: String,
    number: u64,
    /// The turn before this one, until it has ended.
    before: Option<watch::Receiver<()>>,
    _done: watch::Sender<()>,
}

impl Turn {
    /// Waits until the comparison queued before this one has ended.
    pub async fn wait(&mut self) {
        if let Some(mut before) = self.before.take() {
            // Err once its sender is dropped: that comparison ended.
            while before.changed().await.is_ok() {}
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.turns.get(&self.reference).is_some_and(|(n, _)| *n == self.number) {
            g.turns.remove(&self.reference);
        }
    }
}

impl Book {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the next turn on `reference`. References are Gameball's random
    /// ones, so turns are not scoped by tenant; entries are.
    pub fn turn(&self, reference: &str) -> Turn {
        let (tx, rx) = watch::channel(());
        let mut g = self.lock();
        g.next_turn += 1;
        let number = g.next_turn;
        let before = g.turns.insert(reference.to_owned(), (number, rx)).map(|(_, rx)| rx);
        Turn {
            inner: self.inner.clone(),
            reference: reference.to_owned(),
            number,
            before,
            _done: tx,
        }
    }

    pub fn insert(&self, tenant: &str, reference: &str, entry: Entry) {
        let mut g = self.lock();
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
        self.lock()
            .entries
            .get(&(tenant.to_owned(), reference.to_owned()))
            .cloned()
    }

    /// Marks the lock ended, if it is known and still open.
    pub fn end(&self, tenant: &str, reference: &str, ended: Ended) {
        let mut g = self.lock();
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

    #[tokio::test]
    async fn comparisons_of_one_reference_take_turns() {
        let b = Book::default();
        let mut first = b.turn("R");
        let mut second = b.turn("R");
        let mut other = b.turn("S");
        first.wait().await;
        other.wait().await;
        {
            use futures_util::FutureExt;
            let mut waiting = Box::pin(second.wait());
            assert!(
                waiting.as_mut().now_or_never().is_none(),
                "the second waits while the first runs"
            );
            drop(first);
            waiting.await;
        }
        drop(second);
        assert!(
            !b.lock().turns.contains_key("R"),
            "the last turn's end leaves nothing behind"
        );
        drop(other);
        assert!(b.lock().turns.is_empty());
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
