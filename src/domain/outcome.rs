//! One coupon's verdict: applicable with its discount, or why not.

use crate::money::DecimalNumber;

/// Why a coupon is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidReason {
    NotFound,
    Expired,
    NotActive,
    Disabled,
    /// Redemption limit reached, or every use held by other sessions.
    Unavailable,
    CustomerNotEligible,
    OrderConditionsNotMet,
    NotCombinable,
    Invalid,
}

impl InvalidReason {
    /// The stable, human-readable text, unless the tenant overrides it
    /// (`[tenants.NAME.messages]`).
    pub fn default_message(self) -> &'static str {
        match self {
            InvalidReason::NotFound => "Coupon not found",
            InvalidReason::Expired => "Coupon has expired",
            InvalidReason::NotActive => "Coupon is not active yet",
            InvalidReason::Disabled => "Coupon is disabled",
            InvalidReason::Unavailable => "Coupon usage limit reached or it is held by another checkout",
            InvalidReason::CustomerNotEligible => "Customer is not eligible for this coupon",
            InvalidReason::OrderConditionsNotMet => "Order does not meet the coupon's conditions",
            InvalidReason::NotCombinable => "Coupon cannot be combined with the other coupons",
            InvalidReason::Invalid => "Coupon is not valid",
        }
    }
}

/// What the coupon service said about one requested coupon.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Applicable(Applicable),
    Inapplicable {
        code: String,
        reason: InvalidReason,
    },
    /// Not checked because another coupon failed (all-or-nothing stacking):
    /// worth asking again without the failing ones.
    NotChecked {
        code: String,
    },
}

impl Outcome {
    pub fn code(&self) -> &str {
        match self {
            Outcome::Applicable(a) => &a.code,
            Outcome::Inapplicable { code, .. } | Outcome::NotChecked { code } => code,
        }
    }

    /// Why the coupon is not applied (a coupon not checked is just invalid).
    pub fn reason(&self) -> Option<InvalidReason> {
        match self {
            Outcome::Applicable(_) => None,
            Outcome::Inapplicable { reason, .. } => Some(*reason),
            Outcome::NotChecked { .. } => Some(InvalidReason::Invalid),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Applicable {
    pub code: String,
    /// One of [`crate::domain::discount_type`].
    pub discount_type: &'static str,
    /// This coupon's discount on the order, in minor units.
    pub discount_minor: i64,
    /// The coupon's own value (percent, or an amount in minor units), for
    /// validations that name no order amount.
    pub face_value: FaceValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceValue {
    Percent(DecimalNumber),
    Minor(i64),
}

impl Applicable {
    /// `discountAmount`: the coupon's discount on the order when the
    /// request named the order's amount; otherwise its face value (the
    /// percent of a percentage coupon, the amount of a fixed one), as seed
    /// 001's example (`"discountType": "percentage", "discountAmount": 10`)
    /// shows.
    pub fn discount_amount(&self, order_amount_known: bool, decimals: u32) -> DecimalNumber {
        if order_amount_known {
            return DecimalNumber::from_minor(self.discount_minor, decimals);
        }
        match self.face_value {
            FaceValue::Percent(p) => p,
            FaceValue::Minor(m) => DecimalNumber::from_minor(m, decimals),
        }
    }
}
