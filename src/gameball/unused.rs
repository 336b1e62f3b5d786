//! Gameball request fields couponbridge accepts but does not act on, per
//! operation: documented by Gameball, read by nobody here when the call is
//! answered from Voucherify. A call that carries one is answered all the
//! same (Gameball's own clients send them), and says so: the answer's
//! `x-couponbridge-unused` header names them, and
//! `couponbridge_unused_fields_total{tenant, route, field}` counts them.
//! A call passed on to Gameball (an order forwarded for its points, a
//! route in `passthrough`) drops nothing, and is not counted.
//!
//! docs/gameball.md lists the same table; a test holds the two together.

use crate::domain::Operation;

/// The documented fields of `op`'s request that couponbridge does not act
/// on when it answers the call itself.
pub fn unused_fields(op: Operation) -> &'static [&'static str] {
    match op {
        // Merchant and collection restrictions are Gameball's coupon
        // settings; Voucherify's validation rules decide eligibility.
        Operation::Validate | Operation::ValidateSingle => &["merchantId", "collectionId", "collectionsIds"],
        // What only Gameball's loyalty engine uses: cashback, tiers,
        // channels, the order's extra data.
        Operation::Orders => &[
            "totalDiscount",
            "totalTax",
            "lineItems",
            "extra",
            "merchant",
            "guest",
            "channel",
            "cartId",
            "cashbackConfigurations",
        ],
        Operation::Payments => &["merchant", "extra", "channel"],
        Operation::Automatic => &["merchant"],
        Operation::Refunds => &["merchant"],
        _ => &[],
    }
}

/// The unused fields a request body carries at its top level, in the
/// table's order.
pub fn unused_in(op: Operation, body: &[u8]) -> Vec<&'static str> {
    let fields = unused_fields(op);
    // Most calls carry none: a byte search spares them a second parse of
    // the body on the hot path.
    let named = |f: &str| memchr::memmem::find(body, f.as_bytes()).is_some();
    if !fields.iter().any(|f| named(f)) {
        return Vec::new();
    }
    let Ok(serde_json::Value::Object(top)) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    fields
        .iter()
        .copied()
        .filter(|f| top.get(*f).is_some_and(|v| !v.is_null()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_documented_fields_present_and_set_are_named() {
        let body = br#"{"customerId":"c","coupons":["A"],"merchantId":"m1","collectionId":null,"junk":1}"#;
        assert_eq!(unused_in(Operation::Validate, body), ["merchantId"]);
        assert!(unused_in(Operation::Burn, body).is_empty());
        assert!(unused_in(Operation::Validate, b"not json").is_empty());
    }
}
