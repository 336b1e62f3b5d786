//! The translation for the rest of the coupon lifecycle (coupons from
//! points, the customer's coupons, automatic coupons), pure like the rest
//! of `translate`: Voucherify's bodies in, Gameball's domain terms out.

use super::discount_type_of;
use crate::clock::{Millis, parse_iso};
use crate::domain::{
    AppliedPromotion, AutomaticCmd, CartItem, DiscountedItem, IssuedCoupon, WalletCoupon, discount_type,
};
use crate::voucherify::lifecycle::{QualificationOptions, QualificationRequest, QualificationResponse, Redemption};
use crate::voucherify::{Order, OrderItem, Voucher};

/// Gameball's display names for a coupon's type (`CustomerCouponsResponse`).
pub mod display_type {
    pub const FREE_SHIPPING: &str = "Free Shipping";
    pub const FIXED: &str = "Fixed Rate Discount";
    pub const PERCENTAGE: &str = "Percentage";
    pub const FREE_PRODUCT: &str = "Free Product";
    pub const CUSTOM: &str = "Custom";
}

/// A voucher of the customer's wallet as Gameball lists it. Voucherify
/// counts uses per voucher, not per customer: a voucher published to one
/// customer is used by that customer, so `customerUsedCount` is its
/// redeemed quantity.
pub fn wallet_coupon(v: &Voucher, now: Millis, decimals: u32) -> WalletCoupon {
    // The value and limit as lock details give them; only the type's name
    // is the wallet's own vocabulary.
    let terms = super::coupon(v, &[], decimals);
    let d = v.discount.as_ref();
    let is_gift = v.kind.as_deref() == Some("GIFT_VOUCHER") || v.gift.is_some() && d.is_none();
    let kind = match d {
        _ if is_gift => display_type::CUSTOM,
        Some(d) if d.is_free_shipping() => display_type::FREE_SHIPPING,
        Some(d) => match d.kind.as_deref() {
            Some("PERCENT") => display_type::PERCENTAGE,
            Some("AMOUNT" | "FIXED") => display_type::FIXED,
            Some("UNIT") => display_type::FREE_PRODUCT,
            _ => display_type::CUSTOM,
        },
        None => display_type::CUSTOM,
    };
    let started = v.start_date.as_deref().and_then(parse_iso).is_none_or(|s| s <= now);
    let is_expired = v
        .expiration_date
        .as_deref()
        .and_then(parse_iso)
        .is_some_and(|e| e <= now);
    let is_active = v.active.unwrap_or(true) && started;
    let usage_limit = terms.usage_limit;
    let used_count = v.redemption.as_ref().and_then(|r| r.redeemed_quantity).unwrap_or(0);
    let left = usage_limit.is_none_or(|q| used_count < q);
    WalletCoupon {
        name: v
            .campaign
            .clone()
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| v.code.clone()),
        code: v.code.clone(),
        value: terms.value,
        kind,
        start_date: v.start_date.clone(),
        expiry_date: v.expiration_date.clone(),
        is_expired,
        is_active,
        usage_limit,
        used_count,
        customer_used_count: used_count,
        is_available_to_use: is_active && !is_expired && left,
    }
}

/// The qualification that finds a cart's automatic promotions.
pub fn qualification_request(cmd: &AutomaticCmd) -> QualificationRequest {
    QualificationRequest {
        customer: super::customer_ref(&cmd.customer),
        order: Order {
            source_id: None,
            amount: cmd.amount_minor.or_else(|| items_total(&cmd.items)),
            items: cmd
                .items
                .iter()
                .filter_map(order_item)
                .chain(shipping_line(cmd.shipping_minor))
                .collect(),
            status: None,
        },
        scenario: "ALL",
        options: QualificationOptions {
            limit: 50,
            sorting_rule: "BEST_DEAL",
        },
    }
}

fn items_total(items: &[CartItem]) -> Option<i64> {
    let mut total = 0i64;
    for i in items {
        total = total.checked_add(i.price_minor?.checked_mul(i.quantity.unwrap_or(1))?)?;
    }
    (!items.is_empty()).then_some(total)
}

/// Shipping as Voucherify's free-shipping line, as redemptions send it.
fn shipping_line(shipping_minor: Option<i64>) -> Option<OrderItem> {
    shipping_minor.filter(|s| *s > 0).map(|price| OrderItem {
        source_id: crate::voucherify::FREE_SHIPPING_UNIT.to_owned(),
        related_object: "product",
        quantity: 1,
        price,
    })
}

/// A priced cart line as an order item; an unpriced one is left to the
/// order's total.
fn order_item(i: &CartItem) -> Option<OrderItem> {
    Some(OrderItem {
        source_id: i.product_id.clone(),
        related_object: "product",
        quantity: i.quantity.unwrap_or(1),
        price: i.price_minor?,
    })
}

/// The automatic promotion giving the largest discount: only promotion
/// tiers apply themselves (a voucher needs its code typed at checkout).
/// Ties keep Voucherify's order (`BEST_DEAL`).
pub fn best_promotion(resp: &QualificationResponse) -> Option<AppliedPromotion> {
    let mut best: Option<(i64, &crate::voucherify::lifecycle::Qualified)> = None;
    for q in resp.redeemables.data.iter().filter(|q| q.object == "promotion_tier") {
        let amount = q.order.as_ref().map_or(0, |o| o.discount());
        if amount > 0 && best.is_none_or(|(b, _)| amount > b) {
            best = Some((amount, q));
        }
    }
    let (amount, q) = best?;
    let discount = q.result.as_ref().and_then(|r| r.discount.as_ref());
    let discount_type = match discount_type_of(discount) {
        // The automatic-coupon vocabulary has no `fixed_rate`.
        discount_type::FIXED_RATE => discount_type::FIXED,
        t => t,
    };
    let items = q
        .order
        .as_ref()
        .map(|o| {
            o.items
                .iter()
                .filter_map(|i| {
                    let off = i.applied_discount_amount.or(i.discount_amount).filter(|d| *d > 0)?;
                    Some(DiscountedItem {
                        product_id: i.source_id.clone().or_else(|| i.product_id.clone()).unwrap_or_default(),
                        quantity: i.quantity,
                        discount_minor: off,
                        price_minor: i.price,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(AppliedPromotion {
        name: q
            .name
            .clone()
            .or_else(|| q.banner.clone())
            .or_else(|| q.campaign_name.clone())
            .unwrap_or_else(|| q.id.clone()),
        discount_minor: amount,
        discount_type,
        items,
    })
}

/// The coupon a reward redemption published, if it was a CAMPAIGN reward.
pub fn issued_coupon(r: &Redemption) -> Option<IssuedCoupon> {
    let v = r.reward.as_ref()?.voucher.as_ref().filter(|v| !v.code.is_empty())?;
    Some(IssuedCoupon {
        code: v.code.clone(),
        start_date: v.start_date.clone(),
        expiry_date: v.expiration_date.clone(),
    })
}

/// Why Voucherify refused a reward redemption, from its error key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RewardRefusal {
    InsufficientPoints,
    /// The reward, or its assignment to the loyalty program, is unknown.
    NoSuchReward,
    /// The loyalty card is unknown.
    NoSuchCard,
    Other,
}

impl RewardRefusal {
    pub fn from_key(status: u16, key: &str, resource: Option<&str>) -> Self {
        match key {
            // Voucherify's keys for a card short of points (the first is
            // its validation key; the others are seen from member
            // redemptions).
            "loyalty_card_points_exceeded" | "not_enough_points" | "insufficient_points" | "points_exceeded" => {
                RewardRefusal::InsufficientPoints
            }
            k if k.contains("points") => RewardRefusal::InsufficientPoints,
            _ if status == 404 => match resource {
                Some(r) if r.contains("voucher") || r.contains("member") || r.contains("loyalty_card") => {
                    RewardRefusal::NoSuchCard
                }
                _ => RewardRefusal::NoSuchReward,
            },
            _ => RewardRefusal::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voucherify::lifecycle::QualificationResponse;
    use serde_json::json;

    fn wallet(v: serde_json::Value) -> Voucher {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn wallet_coupons_carry_gameballs_display_types_and_states() {
        let now = parse_iso("2026-06-01T00:00:00Z").unwrap();
        let c = wallet_coupon(
            &wallet(json!({"code": "P10", "campaign": "Spring", "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "PERCENT", "percent_off": 10}, "active": true,
                "start_date": "2026-01-01T00:00:00Z", "expiration_date": "2026-12-31T00:00:00Z",
                "redemption": {"quantity": 3, "redeemed_quantity": 1}})),
            now,
            2,
        );
        assert_eq!(
            (c.name.as_str(), c.kind, c.value.to_string()),
            ("Spring", "Percentage", "10".into())
        );
        assert!(c.is_active && !c.is_expired && c.is_available_to_use);
        assert_eq!((c.usage_limit, c.used_count, c.customer_used_count), (Some(3), 1, 1));

        let used = wallet_coupon(
            &wallet(json!({"code": "A5", "discount": {"type": "AMOUNT", "amount_off": 500},
                "redemption": {"quantity": 1, "redeemed_quantity": 1}})),
            now,
            2,
        );
        assert_eq!(
            (used.name.as_str(), used.kind, used.value.to_string()),
            ("A5", "Fixed Rate Discount", "5".into())
        );
        assert!(!used.is_available_to_use, "used up");

        let expired = wallet_coupon(
            &wallet(
                json!({"code": "S", "discount": {"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng"},
                "expiration_date": "2026-05-01T00:00:00Z"}),
            ),
            now,
            2,
        );
        assert_eq!(expired.kind, "Free Shipping");
        assert!(expired.is_expired && !expired.is_available_to_use);

        let later = wallet_coupon(
            &wallet(json!({"code": "L", "start_date": "2026-07-01T00:00:00Z"})),
            now,
            2,
        );
        assert!(!later.is_active, "not started yet");
        let off = wallet_coupon(&wallet(json!({"code": "D", "active": false})), now, 2);
        assert!(!off.is_active && !off.is_available_to_use);
    }

    #[test]
    fn the_best_promotion_tier_wins_and_vouchers_never_apply_themselves() {
        let resp: QualificationResponse = serde_json::from_value(json!({"redeemables": {"data": [
            {"id": "V1", "object": "voucher", "order": {"total_discount_amount": 9000}},
            {"id": "promo_small", "object": "promotion_tier", "name": "5 off",
             "result": {"discount": {"type": "AMOUNT", "amount_off": 500}}, "order": {"discount_amount": 500}},
            {"id": "promo_big", "object": "promotion_tier", "name": "10% off",
             "result": {"discount": {"type": "PERCENT", "percent_off": 10}},
             "order": {"total_discount_amount": 1200, "items": [
                {"source_id": "sku-1", "quantity": 2, "price": 6000, "discount_amount": 1200},
                {"source_id": "sku-2", "quantity": 1, "price": 100, "discount_amount": 0}]}}
        ]}}))
        .unwrap();
        let best = best_promotion(&resp).unwrap();
        assert_eq!(
            (best.name.as_str(), best.discount_minor, best.discount_type),
            ("10% off", 1200, "percentage")
        );
        assert_eq!(best.items.len(), 1, "only discounted lines");
        assert_eq!(best.items[0].product_id, "sku-1");

        let none: QualificationResponse =
            serde_json::from_value(json!({"redeemables": {"data": [{"id": "V1", "object": "voucher"}]}})).unwrap();
        assert!(best_promotion(&none).is_none());
    }

    #[test]
    fn reward_refusals_are_classified() {
        assert_eq!(
            RewardRefusal::from_key(400, "not_enough_points", None),
            RewardRefusal::InsufficientPoints
        );
        assert_eq!(
            RewardRefusal::from_key(400, "loyalty_card_points_exceeded", None),
            RewardRefusal::InsufficientPoints
        );
        assert_eq!(
            RewardRefusal::from_key(404, "resource_not_found", Some("reward")),
            RewardRefusal::NoSuchReward
        );
        assert_eq!(
            RewardRefusal::from_key(404, "resource_not_found", Some("loyalty_card")),
            RewardRefusal::NoSuchCard
        );
        assert_eq!(RewardRefusal::from_key(400, "whatever", None), RewardRefusal::Other);
    }

    #[test]
    fn a_cart_without_a_total_is_priced_from_its_lines() {
        let items = vec![
            CartItem {
                product_id: "a".into(),
                quantity: Some(2),
                price_minor: Some(1000),
            },
            CartItem {
                product_id: "b".into(),
                quantity: None,
                price_minor: Some(500),
            },
        ];
        assert_eq!(items_total(&items), Some(2500));
        assert_eq!(items_total(&[]), None);
    }
}
