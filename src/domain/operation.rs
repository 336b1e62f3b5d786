//! The operations couponbridge translates, by the name `[routes]`,
//! `[rollout]`, metrics and logs give them. The route table
//! (`crate::gameball::routes`) says which paths ask for each.

/// Every operation couponbridge translates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    Validate,
    ValidateSingle,
    LockDetails,
    Release,
    Burn,
    Orders,
    /// The SDK-era `coupon/validate`: a validation with no session.
    CouponValidate,
    /// The SDK-era `coupon/redeem`: one redemption by code, exactly once.
    CouponRedeem,
    /// The SDK-era `coupon` (create).
    CouponCreate,
    /// A coupon bought with points (a loyalty reward redemption).
    Predefined,
    /// The coupons published to a customer.
    CustomerCoupons,
    /// The best automatic promotion for a cart (a qualification).
    Automatic,
    /// A payment with coupons: redeemed like an order, once per payment.
    Payments,
    /// A refund or a cancellation: the order's or payment's redemptions
    /// rolled back, once.
    Refunds,
}

impl Operation {
    pub const ALL: [Operation; 14] = [
        Operation::Validate,
        Operation::ValidateSingle,
        Operation::LockDetails,
        Operation::Release,
        Operation::Burn,
        Operation::Orders,
        Operation::CouponValidate,
        Operation::CouponRedeem,
        Operation::CouponCreate,
        Operation::Predefined,
        Operation::CustomerCoupons,
        Operation::Automatic,
        Operation::Payments,
        Operation::Refunds,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Operation::Validate => "validate",
            Operation::ValidateSingle => "validate_single",
            Operation::LockDetails => "lock_details",
            Operation::Release => "release",
            Operation::Burn => "burn",
            Operation::Orders => "orders",
            Operation::CouponValidate => "coupon_validate",
            Operation::CouponRedeem => "coupon_redeem",
            Operation::CouponCreate => "coupon_create",
            Operation::Predefined => "predefined",
            Operation::CustomerCoupons => "customer_coupons",
            Operation::Automatic => "automatic",
            Operation::Payments => "payments",
            Operation::Refunds => "refunds",
        }
    }

    /// A call of this operation may name state that already exists (a lock
    /// reference, a transaction, a v3.0 hold to renew), so where it goes
    /// depends on who issued that state, not only on its route's mode.
    pub fn may_name_state(self) -> bool {
        matches!(
            self,
            Operation::LockDetails
                | Operation::Release
                | Operation::Burn
                | Operation::Orders
                | Operation::Payments
                | Operation::Refunds
                | Operation::Validate
                | Operation::ValidateSingle
        )
    }

    pub fn from_name(name: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Its position in per-operation arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_round_trip() {
        for o in Operation::ALL {
            assert_eq!(Operation::from_name(o.name()), Some(o));
            assert_eq!(Operation::ALL[o.index()], o);
        }
    }
}
