use super::*;
use serde_json::json;

/// 2026-06-01T00:00:00Z.
const NOW: Millis = 1_780_272_000_000;

/// A usable coupon of `kind` and `value`, plus `more` fields.
fn gb(kind: &str, value: Value, more: Value) -> WalletCoupon {
    let mut c = json!({"code": "GB-1", "type": kind, "value": value, "isExpired": false, "isActive": true,
        "usageLimit": 1, "usedCount": 0, "isAvailableToUse": true});
    for (k, v) in more.as_object().unwrap() {
        c[k] = v.clone();
    }
    // Through text, as from the wire: values are read from the JSON's digits.
    serde_json::from_str(&c.to_string()).unwrap()
}

fn created(c: &WalletCoupon, decimals: u32) -> Definition {
    match plan(c, "cust-1", decimals, NOW) {
        Plan::Create(d) => d,
        Plan::Skip(s) => panic!("skipped: {}", s.reason),
    }
}

fn skipped(c: &WalletCoupon, decimals: u32) -> Skip {
    match plan(c, "cust-1", decimals, NOW) {
        Plan::Skip(s) => s,
        Plan::Create(d) => panic!("created: {d:?}"),
    }
}

#[test]
fn a_percentage_becomes_percent_off_with_dates_uses_and_origin() {
    let c = gb(
        "Percentage",
        json!(12.5),
        json!({"usageLimit": 3, "usedCount": 1, "startDate": "2026-01-01T00:00:00Z", "expiryDate": "2026-12-31T23:59:59.5+02:00"}),
    );
    let d = created(&c, 2);
    assert_eq!(d.code, "GB-1");
    assert_eq!(d.uses_left, Some(2), "usageLimit - usedCount");
    assert_eq!(
        d.body(),
        json!({
            "type": "DISCOUNT_VOUCHER",
            "discount": {"type": "PERCENT", "percent_off": 12.5},
            "start_date": "2026-01-01T00:00:00.000Z",
            "expiration_date": "2026-12-31T21:59:59.500Z",
            "redemption": {"quantity": 2},
            "metadata": {"source": "gameball-import", "gameball_customer_id": "cust-1", "gameball_type": "Percentage"},
        })
    );
    assert_eq!(
        skipped(&gb("Percentage", json!(100.5), json!({})), 2).why,
        Why::NotMappable
    );
    assert!(matches!(
        plan(&gb("Percentage", json!(100), json!({})), "c", 2, NOW),
        Plan::Create(_)
    ));
}

#[test]
fn a_fixed_rate_discount_is_an_amount_in_the_currencys_minor_units() {
    let two = created(&gb("Fixed Rate Discount", json!(19.99), json!({})), 2);
    assert_eq!(two.body()["discount"], json!({"type": "AMOUNT", "amount_off": 1999}));
    let three = created(&gb("Fixed Rate Discount", json!(1.234), json!({})), 3);
    assert_eq!(three.body()["discount"], json!({"type": "AMOUNT", "amount_off": 1234}));
    let whole = created(&gb("Fixed Rate Discount", json!(5), json!({})), 3);
    assert_eq!(whole.body()["discount"]["amount_off"], 5000);
    let finer = skipped(&gb("Fixed Rate Discount", json!(19.999), json!({})), 2);
    assert_eq!(
        finer.reason, "19.999 has more decimals than the currency's 2",
        "never rounded"
    );
    let nothing = skipped(&gb("Fixed Rate Discount", json!(0), json!({})), 2);
    assert_eq!(nothing.reason, "a Fixed Rate Discount coupon of 0 gives nothing");
    let none = skipped(&gb("Fixed Rate Discount", Value::Null, json!({})), 2);
    assert_eq!(none.reason, "a Fixed Rate Discount coupon without a value");
}

#[test]
fn free_shipping_is_voucherifys_free_shipping_unit() {
    let d = created(&gb("Free Shipping", json!(0), json!({})), 2);
    assert_eq!(
        d.body()["discount"],
        json!({"type": "UNIT", "unit_off": 1, "unit_type": "prod_5h1pp1ng", "effect": "ADD_MISSING_ITEMS"})
    );
    assert_eq!(d.body()["metadata"]["gameball_type"], "Free Shipping");
}

#[test]
fn types_without_an_equivalent_are_skipped_with_their_reason() {
    for kind in ["Free Product", "Custom", "Percentage-based Cashback"] {
        let s = skipped(&gb(kind, json!(5), json!({})), 2);
        assert_eq!(s.why, Why::NotMappable);
        assert_eq!(
            s.reason,
            format!("type \"{kind}\" has no Voucherify equivalent the import can make")
        );
    }
    assert_eq!(
        skipped(&gb("Percentage", json!(5), json!({"type": null})), 2).reason,
        "no type"
    );
    assert_eq!(
        skipped(&gb("Percentage", json!(5), json!({"code": " "})), 2).reason,
        "no code"
    );
}

#[test]
fn used_up_expired_and_inactive_coupons_are_not_made_usable() {
    let cases = [
        (json!({"isExpired": true}), "expired (Gameball says isExpired)"),
        (
            json!({"expiryDate": "2026-05-31T00:00:00Z"}),
            "expired on 2026-05-31T00:00:00.000Z",
        ),
        (json!({"usedCount": 1}), "used up (usedCount 1 of usageLimit 1)"),
        (
            json!({"usageLimit": 5, "usedCount": 1, "limitPerCustomer": 1, "customerUsedCount": 1}),
            "used up by this customer (customerUsedCount 1 of limitPerCustomer 1)",
        ),
        (json!({"isActive": false}), "inactive (Gameball says isActive false)"),
        (
            json!({"isActive": false, "startDate": "2027-01-01T00:00:00Z"}),
            "inactive (Gameball says isActive false)",
        ),
        (
            json!({"isAvailableToUse": false}),
            "not available to use (Gameball says isAvailableToUse false)",
        ),
    ];
    for (more, reason) in cases {
        let s = skipped(&gb("Percentage", json!(10), more.clone()), 2);
        assert_eq!((s.why, s.reason.as_str()), (Why::NotUsable, reason), "{more}");
    }
    // Usable ones: an expiry still ahead, uses left.
    let ahead = gb(
        "Percentage",
        json!(10),
        json!({"expiryDate": "2026-06-01T00:00:01Z", "usageLimit": 2, "usedCount": 1}),
    );
    assert_eq!(created(&ahead, 2).uses_left, Some(1));
}

#[test]
fn uses_left_are_unlimited_without_a_limit_and_bounded_per_customer() {
    let unlimited = created(&gb("Percentage", json!(10), json!({"usageLimit": null})), 2);
    assert_eq!(unlimited.uses_left, None);
    assert!(unlimited.body().get("redemption").is_none(), "{}", unlimited.body());
    let per_customer = gb(
        "Percentage",
        json!(10),
        json!({"usageLimit": null, "limitPerCustomer": 3, "customerUsedCount": 1}),
    );
    assert_eq!(created(&per_customer, 2).uses_left, Some(2));
    let both = gb(
        "Percentage",
        json!(10),
        json!({"usageLimit": 10, "usedCount": 2, "limitPerCustomer": 3, "customerUsedCount": 2}),
    );
    assert_eq!(created(&both, 2).uses_left, Some(1), "the smaller");
}

#[test]
fn dates_without_an_offset_are_utc_and_unreadable_ones_are_skipped() {
    let d = created(
        &gb("Percentage", json!(10), json!({"expiryDate": "2026-12-31T00:00:00"})),
        2,
    );
    assert_eq!(d.body()["expiration_date"], "2026-12-31T00:00:00.000Z");
    let s = skipped(&gb("Percentage", json!(10), json!({"startDate": "next week"})), 2);
    assert_eq!(
        (s.why, s.reason.as_str()),
        (Why::NotMappable, "unreadable startDate \"next week\"")
    );
}

/// `d` as Voucherify answers it: its own number and date spellings, its
/// own effect and fields.
fn as_held(d: &Definition) -> VoucherDefinition {
    let mut v = d.body();
    v["code"] = d.code.clone().into();
    v["active"] = true.into();
    v["holder_id"] = "cust_abc".into();
    if v["discount"]["type"] == "AMOUNT" {
        v["discount"]["effect"] = "APPLY_TO_ORDER".into();
    }
    if let Some(p) = v["discount"]["percent_off"].as_f64() {
        v["discount"]["percent_off"] = json!(p);
    }
    v["redemption"]["redeemed_quantity"] = 0.into();
    v["metadata"]["added_later"] = true.into();
    if let Some(s) = v["start_date"].as_str() {
        v["start_date"] = s.replace(".000Z", "+00:00").into();
    }
    serde_json::from_value(v).unwrap()
}

#[test]
fn a_voucher_read_back_as_voucherify_spells_it_is_the_same_definition() {
    for c in [
        gb(
            "Percentage",
            json!(20),
            json!({"startDate": "2026-01-01T00:00:00Z", "usageLimit": 2}),
        ),
        gb("Fixed Rate Discount", json!(19.99), json!({})),
        gb("Free Shipping", json!(0), json!({"usageLimit": null})),
    ] {
        let d = created(&c, 2);
        assert_eq!(d.differences(&as_held(&d), Uses::Quantity), [], "{d:?}");
        assert_eq!(d.differences(&as_held(&d), Uses::Left), []);
    }
}

#[test]
fn each_field_that_differs_is_named() {
    let d = created(
        &gb(
            "Percentage",
            json!(20),
            json!({"expiryDate": "2026-12-31T00:00:00Z", "usageLimit": 3, "usedCount": 1}),
        ),
        2,
    );
    let held = |change: Value| {
        let mut v = d.body();
        for (k, x) in change.as_object().unwrap() {
            let at = v.pointer_mut(k).unwrap_or_else(|| panic!("{k}"));
            *at = x.clone();
        }
        serde_json::from_value::<VoucherDefinition>(v).unwrap()
    };
    let diff = |change: Value| {
        d.differences(&held(change), Uses::Quantity)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        diff(json!({"/discount/percent_off": 10})),
        ["discount.percent_off: Voucherify has 10, Gameball's coupon makes 20"]
    );
    assert_eq!(
        diff(json!({"/discount": {"type": "AMOUNT", "amount_off": 2000}})),
        [
            "discount.type: Voucherify has AMOUNT, Gameball's coupon makes PERCENT",
            "discount.percent_off: Voucherify has none, Gameball's coupon makes 20",
            "discount.amount_off: Voucherify has 2000, Gameball's coupon makes none",
        ]
    );
    assert_eq!(
        diff(json!({"/expiration_date": "2027-01-01T00:00:00Z"})),
        ["expiration_date: Voucherify has 2027-01-01T00:00:00.000Z, Gameball's coupon makes 2026-12-31T00:00:00.000Z"]
    );
    assert_eq!(
        diff(json!({"/redemption/quantity": 5})),
        ["redemption.quantity: Voucherify has 5, Gameball's coupon makes 2"]
    );
    assert_eq!(
        diff(json!({"/metadata/gameball_customer_id": "cust-2"})),
        ["metadata.gameball_customer_id: Voucherify has cust-2, Gameball's coupon makes cust-1"]
    );
    assert_eq!(
        diff(json!({"/metadata": {"source": "shopify"}})),
        [
            "metadata.source: Voucherify has shopify, Gameball's coupon makes gameball-import",
            "metadata.gameball_customer_id: Voucherify has none, Gameball's coupon makes cust-1",
        ]
    );
    assert_eq!(
        diff(json!({"/type": "GIFT_VOUCHER"})),
        ["type: Voucherify has GIFT_VOUCHER, Gameball's coupon makes DISCOUNT_VOUCHER"]
    );
    let mut off = held(json!({}));
    off.active = Some(false);
    assert_eq!(
        d.differences(&off, Uses::Quantity)[0].to_string(),
        "active: Voucherify has false, Gameball's coupon makes true"
    );
    // After a redemption the quantity is the same and one use fewer is left.
    let used: VoucherDefinition = serde_json::from_value({
        let mut v = d.body();
        v["redemption"]["redeemed_quantity"] = 1.into();
        v
    })
    .unwrap();
    assert_eq!(d.differences(&used, Uses::Quantity), []);
    assert_eq!(
        d.differences(&used, Uses::Left)[0].to_string(),
        "uses left: Voucherify has 1, Gameball's coupon makes 2"
    );
}

#[test]
fn usable_means_voucherify_would_accept_it_now() {
    let held = |v: Value| serde_json::from_value::<VoucherDefinition>(v).unwrap();
    assert!(usable(&held(json!({"code": "A", "active": true})), NOW));
    assert!(!usable(&held(json!({"code": "A", "active": false})), NOW));
    assert!(!usable(
        &held(json!({"code": "A", "expiration_date": "2026-05-01T00:00:00Z"})),
        NOW
    ));
    assert!(!usable(
        &held(json!({"code": "A", "start_date": "2026-07-01T00:00:00Z"})),
        NOW
    ));
    assert!(!usable(
        &held(json!({"code": "A", "redemption": {"quantity": 1, "redeemed_quantity": 1}})),
        NOW
    ));
    assert!(usable(
        &held(json!({"code": "A", "redemption": {"quantity": 2, "redeemed_quantity": 1}})),
        NOW
    ));
}
