//! The shadow's "… was not seen by this shadow …" error lines
//! (`shadow/compare.rs`), labelled for what is known of them.
//!
//! The shadow writes that line when its own store did not have the lock
//! (or transaction) a call named, and Gameball answered 2xx. That is all
//! the line establishes: the shadow never saw it (locked before shadowing
//! began, or through another replica), or saw it and no longer keeps it
//! (past its retention, or evicted from the shadow's bounded store). So
//! the report does not repeat "not seen" as a fact: a lock whose reference
//! the same run's lines show in Gameball's answer earlier is labelled as
//! seen and gone, and the others as not in the shadow's store, with both
//! causes. The line's own words stay in each group's example. Grouping by
//! label rather than by message also keeps a thousand locks one group, not
//! a thousand (each message names its reference).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

/// Each run's Gameball lock references seen in its lines (in Gameball's
/// answers), with when each was first seen: `S` orders the sightings.
#[derive(Debug)]
pub struct Sightings<S> {
    runs: HashMap<String, BTreeMap<String, S>>,
}

impl<S> Default for Sightings<S> {
    fn default() -> Self {
        Sightings { runs: HashMap::new() }
    }
}

impl<S: Ord + Clone> Sightings<S> {
    /// Notes the lock reference in Gameball's answer `body`, if any: the
    /// shadow of `run` saw that lock at `stamp`.
    pub fn note(&mut self, run: &str, body: &Value, stamp: &S) {
        let Some(r) = crate::shadow::find_reference(body) else {
            return;
        };
        let seen = self.runs.entry(run.to_owned()).or_default();
        match seen.get_mut(r) {
            Some(first) if *first <= *stamp => {}
            Some(first) => *first = stamp.clone(),
            None => {
                seen.insert(r.to_owned(), stamp.clone());
            }
        }
    }

    /// The first sighting in `run`, before `stamp`, of the lock `u` names.
    pub fn before(&self, run: &str, u: &Unseen, stamp: &S) -> Option<&S> {
        if u.what != What::Lock || u.prefix.is_empty() {
            return None;
        }
        self.runs
            .get(run)?
            .iter()
            .filter(|(r, first)| r.starts_with(&u.prefix) && *first < stamp)
            .map(|(_, first)| first)
            .min()
    }
}

/// What an unseen-line names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    Lock,
    Transaction,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unseen {
    pub what: What,
    /// The start of the reference or id, as the line shortens it.
    pub prefix: String,
}

/// The phrase the shadow writes (`shadow/compare.rs`).
const PHRASE: &str = " was not seen by this shadow";

/// An unseen-line's subject, or `None` for any other error.
pub fn parse(error: &str) -> Option<Unseen> {
    let (head, _) = error.split_once(PHRASE)?;
    let (what, rest) = if let Some(r) = head.strip_prefix("lock reference ") {
        (What::Lock, r)
    } else {
        (What::Transaction, head.strip_prefix("transaction ")?)
    };
    Some(Unseen {
        what,
        prefix: rest.trim().trim_end_matches('\u{2026}').to_owned(),
    })
}

/// The group label: `seen_at`, when the run's lines show the lock in
/// Gameball's answer before the line, says when.
pub fn label(u: &Unseen, seen_at: Option<&str>) -> String {
    match (u.what, seen_at) {
        (What::Lock, Some(at)) => format!(
            "lock seen by this shadow (in Gameball's answer at {at}) and no longer in its store when compared: \
             past its retention, or evicted from the shadow's bounded store"
        ),
        (What::Lock, None) => "lock not in this shadow's store: not seen by it (locked before shadowing began, \
                               or through another replica), or no longer kept (past its retention, or evicted)"
            .to_owned(),
        (What::Transaction, _) => "transaction not in this shadow's store: not seen by it (made before shadowing \
                                   began, or through another replica), or no longer kept (past its retention, \
                                   or evicted)"
            .to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shadows_lines_are_read_and_labelled_for_what_is_known() {
        let lock = parse(
            "lock reference 5e21ff… was not seen by this shadow (made before shadowing began, or through another replica)",
        )
        .unwrap();
        assert_eq!(
            lock,
            Unseen {
                what: What::Lock,
                prefix: "5e21ff".into()
            }
        );
        let t = parse(
            "transaction ord-1 was not seen by this shadow (made before shadowing began, or through another replica)",
        )
        .unwrap();
        assert_eq!((t.what, t.prefix.as_str()), (What::Transaction, "ord-1"));
        assert_eq!(parse("voucherify unreachable"), None);
        let seen = label(&lock, Some("2026-12-01T10:00:00Z"));
        assert!(seen.starts_with("lock seen by this shadow (in Gameball's answer at 2026-12-01T10:00:00Z)"));
        assert!(!seen.contains("not seen"), "{seen}");
        let unknown = label(&lock, None);
        assert!(unknown.starts_with("lock not in this shadow's store"), "{unknown}");
        assert!(
            unknown.contains("or no longer kept"),
            "both causes are named: {unknown}"
        );
    }
}
