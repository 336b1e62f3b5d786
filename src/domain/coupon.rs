//! A coupon's terms, as Gameball describes a coupon (its `Coupon` object),
//! read from Voucherify's voucher and validation rules by
//! `crate::translate`. Each dialect writes them in its own shape.

use crate::money::DecimalNumber;

/// Gameball's discount types (the published `SPEC` vocabulary).
pub mod discount_type {
    pub const PERCENTAGE: &str = "percentage";
    pub const FIXED: &str = "fixed";
    pub const FIXED_RATE: &str = "fixed_rate";
    pub const SHIPPING: &str = "shipping";
    pub const PRODUCT: &str = "product";
}

#[derive(Debug, Clone, PartialEq)]
pub struct CouponTerms {
    pub code: String,
    /// One of [`discount_type`].
    pub kind: &'static str,
    pub value: DecimalNumber,
    pub usage_limit: Option<i64>,
    pub limit_per_customer: Option<i64>,
    /// ISO 8601, as Voucherify gives it.
    pub start_date: Option<String>,
    pub expiry_date: Option<String>,
    pub capping: DecimalNumber,
    pub min_reward: DecimalNumber,
    pub min_order_value: DecimalNumber,
    pub entitled_product_ids: Vec<String>,
    pub entitled_variant_ids: Vec<String>,
    pub entitled_collection_ids: Vec<String>,
    pub entitled_merchant_ids: Vec<String>,
    pub combines_with: CombinesWith,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CombinesWith {
    pub order_discounts: bool,
    pub product_discounts: bool,
    pub shipping_discounts: bool,
}
