//! Comparisons run concurrently, but those of one Gameball reference run in
//! the order they were queued (a lock before its burn, a first burn before
//! a second): each takes its [`Turn`] when it is dequeued and waits for the
//! one before it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

#[derive(Default, Clone)]
pub struct Turns {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    /// The last comparison queued for each Gameball reference: its turn's
    /// number and the channel its end closes.
    last: HashMap<String, (u64, watch::Receiver<()>)>,
    next: u64,
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
        if g.last.get(&self.reference).is_some_and(|(n, _)| *n == self.number) {
            g.last.remove(&self.reference);
        }
    }
}

impl Turns {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the next turn on `reference`. References are Gameball's random
    /// ones, so turns are not scoped by tenant.
    pub fn take(&self, reference: &str) -> Turn {
        let (tx, rx) = watch::channel(());
        let mut g = self.lock();
        g.next += 1;
        let number = g.next;
        let before = g.last.insert(reference.to_owned(), (number, rx)).map(|(_, rx)| rx);
        Turn {
            inner: self.inner.clone(),
            reference: reference.to_owned(),
            number,
            before,
            _done: tx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn comparisons_of_one_reference_take_turns() {
        let t = Turns::default();
        let mut first = t.take("R");
        let mut second = t.take("R");
        let mut other = t.take("S");
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
            !t.lock().last.contains_key("R"),
            "the last turn's end leaves nothing behind"
        );
        drop(other);
        assert!(t.lock().last.is_empty());
    }
}
