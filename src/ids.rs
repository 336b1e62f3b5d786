//! Random identifiers.
//!
//! Lock references are capabilities: whoever holds one can burn or release
//! the coupons under it, so they carry 128 bits from a cryptographically
//! secure generator (`rand`'s thread RNG is ChaCha-based and reseeded from
//! the OS). The other ids only need to be unique.

use rand::Rng;
use rand::distr::Alphanumeric;

/// 32 lowercase hex characters, the form Gameball uses for
/// `lockReference` (`5e21ff4baf5d4760a8a43c7b2513298e`): 96 random bits,
/// then a 32-bit check of them under `key` ([`issued_here`]), which tells
/// the references this deployment issued from Gameball's during a cutover,
/// with no lookup and long after the lock itself is forgotten. `key` is
/// the deployment's own (the lock store keeps it: every replica shares
/// it, a restart keeps it), so another deployment's references, or
/// Gameball's, pass the check by chance once in 4,294,967,296.
pub fn lock_reference(key: &[u8]) -> String {
    let random = format!("{:024x}", rand::rng().random::<u128>() >> 32);
    let check = reference_check(key, &random);
    format!("{random}{check}")
}

/// The check of a reference's random part: the first 4 bytes of its
/// HMAC-SHA-256 under `key`, as 8 hex characters.
fn reference_check(key: &[u8], random: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(random.as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `s` is a reference issued under `key` (since references
/// carried their check).
pub fn issued_here(s: &str, key: &[u8]) -> bool {
    is_lock_reference(s) && reference_check(key, &s[..24]) == s[24..]
}

/// A new deployment's reference key: 32 random bytes.
pub fn reference_key() -> [u8; 32] {
    rand::rng().random()
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
        let a = lock_reference(b"k");
        let b = lock_reference(b"k");
        assert!(is_lock_reference(&a), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn references_issued_here_are_told_from_gameballs() {
        let key = reference_key();
        for _ in 0..100 {
            assert!(issued_here(&lock_reference(&key), &key));
        }
        let other = reference_key();
        assert!(
            !issued_here(&lock_reference(&other), &key),
            "another deployment's reference is not this one's"
        );
        // Gameball's own example, and random 128-bit references as
        // couponbridge made them before they carried a check.
        assert!(!issued_here("5e21ff4baf5d4760a8a43c7b2513298e", &key));
        let misses = (0..1000)
            .filter(|_| issued_here(&format!("{:032x}", rand::rng().random::<u128>()), &key))
            .count();
        assert_eq!(misses, 0);
        assert!(!issued_here("LOCK-XYZ789", &key));
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
