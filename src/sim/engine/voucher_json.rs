//! Voucher JSON: the voucher as `GET /v1/vouchers/{code}` returns it, shared
//! by the catalog and redemption answers, and the date fields its bodies carry.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::wire::ApiError;
use crate::clock::{Millis, iso, parse_iso};
use crate::sim::model::{Assignment, Rule, Voucher, VoucherKind};

/// Removes null members. Voucherify's examples show `"campaign": null`,
/// but its schema declares those fields non-nullable; absent satisfies both
/// the schema and every client that treats missing as null.
pub(super) fn prune_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(prune_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

/// The voucher as `GET /v1/vouchers/{code}` returns it. An unlimited
/// voucher has no `redemption.quantity` (Voucherify writes `null`, its
/// schema allows only an integer).
pub fn voucher_json(v: &Voucher, rules: &HashMap<String, Rule>) -> Value {
    let assignments: Vec<&Assignment> = v
        .assignments
        .iter()
        .filter(|a| rules.contains_key(&a.rule_id))
        .collect();
    let mut out = json!({
        "id": v.id,
        "code": v.code,
        "campaign": v.campaign,
        "campaign_id": v.campaign_id,
        "category": v.category,
        "category_id": null,
        "type": v.kind,
        "discount": v.discount,
        "gift": v.gift.map(|(amount, balance)| json!({"amount": amount, "balance": balance, "effect": "APPLY_TO_ORDER"})),
        "loyalty_card": v.loyalty.map(|l| json!({
            "points": l.points,
            "balance": l.balance,
            "subtracted_points": l.subtracted_points,
        })),
        "start_date": v.start_date.map(iso),
        "expiration_date": v.expiration_date.map(iso),
        "validity_timeframe": null,
        "validity_day_of_week": null,
        "active": v.active,
        "additional_info": v.additional_info,
        "metadata": v.metadata,
        "is_referral_code": false,
        "created_at": iso(v.created_at),
        "updated_at": v.updated_at.map(iso),
        "holder_id": v.holder_id,
        "validation_rules_assignments": {
            "object": "list",
            "data_ref": "data",
            "data": assignments,
            "total": assignments.len(),
        },
        "redemption": {
            "quantity": v.quantity,
            "redeemed_quantity": v.redeemed_quantity,
            "redeemed_amount": if v.kind == VoucherKind::GiftVoucher { Some(v.redeemed_amount) } else { None },
            "redeemed_points": v.loyalty.map(|l| l.redeemed_points),
            "object": "list",
            "url": format!("/v1/vouchers/{}/redemptions?page=1&limit=10", v.code),
        },
        "publish": {
            "object": "list",
            "count": v.publish_count,
            "url": format!("/v1/vouchers/{}/publications?page=1&limit=10", v.code),
        },
        "object": "voucher",
    });
    prune_nulls(&mut out);
    out
}

/// A timestamp field of a voucher body: ISO text, `null`, or absent.
pub fn parse_date_field(v: Option<&Value>, name: &str) -> Result<Option<Millis>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_iso(s)
            .map(Some)
            .ok_or_else(|| ApiError::invalid_payload(format!("Property .{name} should match format \"date-time\""))),
        Some(_) => Err(ApiError::invalid_payload(format!("Property .{name} should be string"))),
    }
}
