//! Random identifiers.
//!
//! Lock references are capabilities: whoever holds one can burn or release
//! the coupons under it, so they carry 128 bits from a cryptographically
//! secure generator (`rand`'s thread RNG is ChaCha-based and reseeded from
//! the OS). The other ids only need to be unique.

use rand::Rng;
use rand::distr::Alphanumeric;

/// 32 lowercase hex characters (128 random bits), the form Gameball uses for
/// `lockReference` (`5e21ff4baf5d4760a8a43c7b2513298e`).
pub fn lock_reference() -> String {
    format!("{:032x}", rand::rng().random::<u128>())
}

/// The Voucherify session key couponbridge supplies for a lock. It is random
/// and independent of the lock reference, so seeing sessions in the
/// Voucherify dashboard never reveals a reference.
pub fn session_key() -> String {
    format!("cbs_{:032x}", rand::rng().random::<u128>())
}

/// A request id for logs and error bodies.
pub fn request_id() -> String {
    format!("{:016x}", rand::rng().random::<u64>())
}

/// `prefix` followed by `len` random alphanumeric characters, e.g. `ssn_…`.
pub fn prefixed(prefix: &str, len: usize) -> String {
    let mut s = String::with_capacity(prefix.len() + len);
    s.push_str(prefix);
    s.extend(rand::rng().sample_iter(Alphanumeric).take(len).map(char::from));
    s
}

/// `prefix` followed by `len` random lowercase hex characters, e.g. `r_0f25…`.
pub fn prefixed_hex(prefix: &str, len: usize) -> String {
    let mut rng = rand::rng();
    let mut s = String::with_capacity(prefix.len() + len);
    s.push_str(prefix);
    for _ in 0..len {
        s.push(char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'));
    }
    s
}

/// Whether `s` has the shape of a reference couponbridge hands out. Used to
/// answer malformed references without a store round trip.
pub fn is_lock_reference(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_references_are_32_hex_and_distinct() {
        let a = lock_reference();
        let b = lock_reference();
        assert!(is_lock_reference(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn shape_check_rejects_other_strings() {
        assert!(!is_lock_reference("LOCK-XYZ789"));
        assert!(!is_lock_reference(&"A".repeat(32)));
        assert!(!is_lock_reference(&"a".repeat(31)));
    }

    #[test]
    fn prefixed_ids_have_prefix_and_length() {
        let id = prefixed("ssn_", 32);
        assert!(id.starts_with("ssn_") && id.len() == 36);
        let r = prefixed_hex("r_", 18);
        assert!(r.starts_with("r_") && r[2..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
