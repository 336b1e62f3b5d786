//! Which customers a share translates: each customer has a fixed place in
//! [0, 1), a hash of (tenant, customer id), and a share `s` translates the
//! customers placed below `s`. So the same customer lands the same way on
//! every replica and after every restart (nothing is remembered, and
//! SHA-256 is the same everywhere), and raising a share only adds
//! customers: one translated at 10 % is translated at 20 %. The place does
//! not depend on the operation, so a customer whose validation is
//! translated at 10 % has its order translated at 10 % too: one checkout
//! stays on one side.

use sha2::{Digest, Sha256};

/// Where a customer's call goes under a rollout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cohort {
    /// In the share: translated (Voucherify).
    Translated,
    /// Outside it: the route's own mode (pass-through or shadow).
    RouteMode,
}

impl Cohort {
    /// As the metrics' `cohort` label says it.
    pub fn name(self) -> &'static str {
        match self {
            Cohort::Translated => "translated",
            Cohort::RouteMode => "route_mode",
        }
    }
}

/// A customer's place: the first 8 bytes of SHA-256 over a fixed prefix,
/// the tenant, a NUL (no tenant name has one, so no two pairs hash the
/// same text) and the customer id, read as a big-endian number. Each of
/// the 2^64 places is as likely as any other.
pub fn place(tenant: &str, customer: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"couponbridge-rollout\0");
    h.update(tenant.as_bytes());
    h.update([0]);
    h.update(customer.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The places a share takes: those below this.
fn threshold(share: f64) -> u64 {
    // 2^64 as a float; a share below 1 times it is below 2^64, and the
    // cast rounds down, so a larger share never has a smaller threshold.
    (share * 18_446_744_073_709_551_616.0) as u64
}

/// Whether `tenant`'s `customer` is among the `share` (0 to 1) translated.
pub fn in_share(tenant: &str, customer: &str, share: f64) -> bool {
    if share >= 1.0 {
        return true;
    }
    if share.is_nan() || share <= 0.0 {
        return false;
    }
    place(tenant, customer) < threshold(share)
}

/// The cohort of `customer` at `share`.
pub fn cohort(tenant: &str, customer: &str, share: f64) -> Cohort {
    if in_share(tenant, customer, share) {
        Cohort::Translated
    } else {
        Cohort::RouteMode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixed places: a change to the hash would move customers between
    /// cohorts on the next deploy, which is exactly what must not happen.
    #[test]
    fn places_are_fixed_forever() {
        assert_eq!(place("shop", "customer-1"), PLACE_SHOP_CUSTOMER_1);
        assert_eq!(place("shop", "42"), PLACE_SHOP_42);
        assert_eq!(place("other", "42"), PLACE_OTHER_42);
        assert_ne!(
            place("shop", "42"),
            place("shop4", "2"),
            "the NUL keeps the pairs apart"
        );
    }

    // Computed apart from this code (Python's hashlib), so the vectors
    // check the construction, not only that it does not change.
    const PLACE_SHOP_CUSTOMER_1: u64 = 0xc236_e116_7a61_9dc6;
    const PLACE_SHOP_42: u64 = 0x2f65_0173_98bc_1d34;
    const PLACE_OTHER_42: u64 = 0xf199_a1f3_88b0_88e7;

    #[test]
    fn raising_a_share_only_adds_customers() {
        let shares = [0.0, 0.001, 0.01, 0.1, 0.2, 0.5, 0.9, 0.999, 1.0];
        for i in 0..2_000 {
            let customer = format!("c{i}");
            let mut was_in = false;
            for &s in &shares {
                let now_in = in_share("shop", &customer, s);
                assert!(now_in || !was_in, "{customer} left the share when it grew to {s}");
                was_in = now_in;
            }
            assert!(was_in, "everyone is in at 1");
            assert!(!in_share("shop", &customer, 0.0), "no one is in at 0");
        }
        assert!(threshold(0.5) < threshold(0.5000001));
    }

    /// 100,000 customers at each share: the count translated is within
    /// five standard deviations of the binomial mean, and the places fill
    /// ten equal buckets evenly (chi-square, 9 degrees of freedom, far
    /// below the 0.1 % critical value of 27.9).
    #[test]
    fn places_are_uniform() {
        let n = 100_000u64;
        let places: Vec<u64> = (0..n).map(|i| place("shop", &format!("customer-{i}"))).collect();
        for share in [0.01, 0.1, 0.5] {
            let inside = places.iter().filter(|&&p| p < threshold(share)).count() as f64;
            let mean = n as f64 * share;
            let sd = (n as f64 * share * (1.0 - share)).sqrt();
            assert!((inside - mean).abs() < 5.0 * sd, "{inside} of {n} at {share}");
        }
        let mut buckets = [0u64; 10];
        for p in &places {
            buckets[(p / (u64::MAX / 10 + 1)) as usize] += 1;
        }
        let expected = n as f64 / 10.0;
        let chi2: f64 = buckets.iter().map(|&b| (b as f64 - expected).powi(2) / expected).sum();
        assert!(chi2 < 27.9, "chi-square {chi2} over {buckets:?}");
    }

    #[test]
    fn the_ends_of_the_range_are_all_or_none() {
        assert!(in_share("shop", "anyone", 1.0));
        assert!(!in_share("shop", "anyone", 0.0));
        assert!(!in_share("shop", "anyone", f64::NAN));
        assert_eq!(cohort("shop", "anyone", 1.0), Cohort::Translated);
    }
}
