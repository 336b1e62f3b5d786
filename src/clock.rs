//! Time as the product sees it.
//!
//! Every expiry decision (lock TTLs in the adapter, session TTLs in the
//! simulator) reads the time through [`Clock`], so tests can move time
//! forward without sleeping. Timestamps are Unix milliseconds (`i64`) inside
//! the product and ISO 8601 with milliseconds on the wire, as both APIs use.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Unix time in milliseconds.
pub type Millis = i64;

/// The source of "now". Cheap to clone; clones of a manual clock share one time.
#[derive(Clone, Debug, Default)]
pub enum Clock {
    /// The operating system's wall clock.
    #[default]
    System,
    /// A clock that only moves when told to (tests, `simulate --manual-clock`).
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `start`.
    pub fn manual(start: Millis) -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(start)))
    }

    /// A manual clock starting at the current wall-clock time.
    pub fn manual_from_now() -> Self {
        Self::manual(system_now())
    }

    pub fn now(&self) -> Millis {
        match self {
            Clock::System => system_now(),
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward. Returns false on the system clock,
    /// which cannot be moved.
    pub fn advance(&self, by: std::time::Duration) -> bool {
        match self {
            Clock::System => false,
            Clock::Manual(t) => {
                t.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
                true
            }
        }
    }

    pub fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual(_))
    }
}

fn system_now() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Formats Unix milliseconds as `2024-10-11T10:57:43.382Z`, the form both
/// Gameball and Voucherify use.
pub fn iso(ms: Millis) -> String {
    let dt = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let (y, mo, d) = (dt.year(), dt.month() as u8, dt.day());
    let (h, mi, s) = (dt.hour(), dt.minute(), dt.second());
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:03}Z", dt.millisecond())
}

/// Parses an RFC 3339 timestamp (any number of fractional digits, any
/// offset) into Unix milliseconds.
pub fn parse_iso(s: &str) -> Option<Millis> {
    let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some((dt.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trips_with_millisecond_precision() {
        let ms = 1_728_644_263_382;
        assert_eq!(iso(ms), "2024-10-11T10:57:43.382Z");
        assert_eq!(parse_iso(&iso(ms)), Some(ms));
    }

    #[test]
    fn parse_accepts_offsets_and_long_fractions() {
        assert_eq!(
            parse_iso("2024-08-01T13:32:52.8353324Z"),
            parse_iso("2024-08-01T13:32:52.835Z")
        );
        assert_eq!(
            parse_iso("2024-08-01T10:38:51+00:00"),
            parse_iso("2024-08-01T10:38:51.000Z")
        );
        assert_eq!(parse_iso("yesterday"), None);
    }

    #[test]
    fn manual_clock_moves_only_when_told_and_clones_share_it() {
        let c = Clock::manual(1_000);
        let c2 = c.clone();
        assert_eq!(c.now(), 1_000);
        assert!(c2.advance(std::time::Duration::from_secs(2)));
        assert_eq!(c.now(), 3_000);
        assert!(!Clock::System.advance(std::time::Duration::from_secs(1)));
    }
}
