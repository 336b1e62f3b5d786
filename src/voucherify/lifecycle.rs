//! Voucherify's bodies for the rest of the coupon lifecycle: loyalty cards
//! and reward redemptions (coupons from points), a customer's vouchers,
//! qualifications (automatic coupons) and rollbacks (refunds). Only the
//! fields couponbridge reads are declared; everything else is ignored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{CustomerRef, Discount, Order, Voucher, minor};

/// `GET /v1/loyalties/{campaignId}/members?customer=` → 200.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MemberList {
    pub vouchers: Vec<LoyaltyCard>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LoyaltyCard {
    pub id: String,
    pub code: String,
}

/// `GET /v1/rewards/{id}` → 200: what kind of reward it is.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RewardInfo {
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `POST /v1/loyalties/{campaignId}/members/{memberId}/redemption`.
#[derive(Debug, Clone, Serialize)]
pub struct RewardRedemptionRequest<'a> {
    pub reward: RewardRef<'a>,
    /// Names the redemption after the attempt, so a lost answer can be
    /// looked up (`GET /v1/orders/{source_id}`) before redeeming again.
    pub order: Order,
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct RewardRef<'a> {
    pub id: &'a str,
}

/// A redemption (of a reward, or read back with `GET /v1/redemptions/{id}`):
/// what a coupon bought with points needs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Redemption {
    pub reward: Option<RewardResult>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RewardResult {
    pub voucher: Option<IssuedVoucher>,
}

/// The voucher a CAMPAIGN reward published to the customer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IssuedVoucher {
    pub code: String,
    pub start_date: Option<String>,
    pub expiration_date: Option<String>,
}

/// `GET /v1/vouchers?customer=&limit=&page=` → 200.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VoucherPage {
    pub vouchers: Vec<Voucher>,
    pub total: Option<u64>,
}

impl Voucher {
    /// A loyalty card is held by the customer but is not a coupon.
    pub fn is_coupon(&self) -> bool {
        self.kind.as_deref() != Some("LOYALTY_CARD")
    }
}

/// `POST /v1/qualifications`.
#[derive(Debug, Clone, Serialize)]
pub struct QualificationRequest {
    pub customer: CustomerRef,
    pub order: Order,
    pub scenario: &'static str,
    pub options: QualificationOptions,
}

#[derive(Debug, Clone, Serialize)]
pub struct QualificationOptions {
    pub limit: u32,
    pub sorting_rule: &'static str,
}

/// `POST /v1/qualifications` → 200.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct QualificationResponse {
    pub redeemables: QualifiedList,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct QualifiedList {
    pub data: Vec<Qualified>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Qualified {
    pub id: String,
    pub object: String,
    pub name: Option<String>,
    pub banner: Option<String>,
    pub campaign_name: Option<String>,
    pub result: Option<QualifiedResult>,
    pub order: Option<QualifiedOrder>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct QualifiedResult {
    pub discount: Option<Discount>,
}

/// The order as this redeemable would discount it (minor units).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct QualifiedOrder {
    #[serde(deserialize_with = "minor")]
    pub discount_amount: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub total_discount_amount: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub applied_discount_amount: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub total_applied_discount_amount: Option<i64>,
    pub items: Vec<QualifiedItem>,
}

impl QualifiedOrder {
    /// The discount this redeemable gives the order, whichever field
    /// Voucherify filled.
    pub fn discount(&self) -> i64 {
        [
            self.total_applied_discount_amount,
            self.applied_discount_amount,
            self.total_discount_amount,
            self.discount_amount,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct QualifiedItem {
    pub source_id: Option<String>,
    pub product_id: Option<String>,
    pub quantity: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub price: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub discount_amount: Option<i64>,
    #[serde(deserialize_with = "minor")]
    pub applied_discount_amount: Option<i64>,
}

/// How a rollback went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RollbackOutcome {
    RolledBack,
    /// Voucherify says it was rolled back before (`already_rolled_back`):
    /// an earlier attempt of this refund did it.
    AlreadyRolledBack,
    /// No such redemption.
    NotFound,
    /// Voucherify refused (a 400 with this key: too old, not ours...):
    /// nothing was rolled back.
    Refused(String),
}
