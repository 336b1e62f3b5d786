//! Coupons only Gameball has (`[migration] coupon_fallback`), on the wire:
//! the caller's validation narrowed to the coupons Voucherify does not
//! know, Gameball's answer read back, and the two answers merged into one
//! in the caller's dialect. Lock details of a lock that stands for both
//! sides merge Gameball's coupons in the same way.
//!
//! Every function here works on the JSON as Gameball wrote it, so a
//! coupon Gameball describes keeps every field Gameball gave it.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::domain::{GameballPart, GameballVerdicts, PassOn, Validation};

/// The caller's list validation asking about `codes` only: its `coupons`
/// entries (strings or objects) for those codes, every other field as
/// sent.
pub fn restrict(body: &[u8], codes: &[String]) -> Option<Vec<u8>> {
    let mut fields: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body).ok()?;
    let coupons: Vec<Value> = serde_json::from_str(fields.get("coupons")?.get()).ok()?;
    let kept: Vec<Value> = coupons
        .into_iter()
        .filter(|c| code_of(c).is_some_and(|code| codes.iter().any(|k| k == code.trim())))
        .collect();
    let text = serde_json::to_string(&kept).ok()?;
    fields.insert("coupons".into(), RawValue::from_string(text).ok()?);
    serde_json::to_vec(&fields).ok()
}

fn code_of(coupon: &Value) -> Option<&str> {
    coupon.as_str().or_else(|| coupon.get("code")?.as_str())
}

/// The release of Gameball's lock `reference`, from the validation that
/// took it: `DELETE …/integrations/coupons/{reference}` in v4.0, `DELETE
/// …/integrations/coupons/{reference}/release` in the v3.0 hold API, with
/// the validation's keys.
pub fn release(validation: &PassOn, reference: &str) -> PassOn {
    let path = validation.path.split('?').next().unwrap_or_default();
    let base = path.split("/coupons").next().unwrap_or(path);
    let path = if base.contains("/v3.0/") {
        format!("{base}/coupons/{reference}/release")
    } else {
        format!("{base}/coupons/{reference}")
    };
    PassOn {
        method: "DELETE".into(),
        path,
        headers: validation
            .headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("content-length") && !n.eq_ignore_ascii_case("content-type"))
            .cloned()
            .collect(),
        body: Vec::new(),
    }
}

/// What Gameball's validation answer says, in any of its shapes: seed's
/// `validCoupons` (each naming the lock) or `isValid`, the published and
/// v3.0 `{valid, coupons | coupon, lockReference | holdReference}`.
pub fn read(body: &[u8]) -> GameballVerdicts {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return GameballVerdicts::default();
    };
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    let top_reference = text(&v["lockReference"]).or_else(|| text(&v["holdReference"]));
    if let Some(valid) = v["validCoupons"].as_array() {
        return GameballVerdicts {
            valid: valid.iter().filter_map(|c| text(&c["code"])).collect(),
            reference: top_reference.or_else(|| valid.iter().find_map(|c| text(&c["lockReference"]))),
        };
    }
    let coupons: Vec<&Value> = match (&v["coupons"], &v["coupon"]) {
        (Value::Array(list), _) => list.iter().collect(),
        (_, c @ Value::Object(_)) => vec![c],
        _ => Vec::new(),
    };
    // Published lists are all or nothing: none is valid unless all are.
    let all_valid = v["valid"].as_bool().or(v["isValid"].as_bool()).unwrap_or(false);
    GameballVerdicts {
        valid: coupons
            .into_iter()
            .filter(|c| all_valid && c["valid"].as_bool() != Some(false))
            .filter_map(|c| text(&c["code"]))
            .collect(),
        reference: top_reference,
    }
}

/// couponbridge's answer (`ours`, already in the caller's shape) with
/// Gameball's verdicts in place of the codes it was asked about.
/// `reference_field` is the dialect's name for the lock (`lockReference`,
/// `holdReference`).
pub fn merge(ours: Value, part: &GameballPart, reference_field: &str, v: &Validation) -> Value {
    let Ok(theirs) = serde_json::from_slice::<Value>(&part.body) else {
        return ours;
    };
    let asked = |c: &Value| code_of(c).is_some_and(|code| part.codes.iter().any(|k| k == code));
    if ours.get("validCoupons").is_some() {
        return merge_seed(ours, &theirs, part, &asked);
    }
    let mut out = ours;
    let theirs_list: Vec<Value> = match (&theirs["coupons"], &theirs["coupon"]) {
        (Value::Array(list), _) => list.clone(),
        (_, c @ Value::Object(_)) => vec![c.clone()],
        _ => Vec::new(),
    };
    let all_valid = v.all_valid_but(&part.codes) && read(&part.body).valid.len() == part.codes.len();
    if let Some(Value::Array(coupons)) = out.get_mut("coupons") {
        for c in coupons.iter_mut() {
            if asked(c)
                && let Some(t) = theirs_list.iter().find(|t| code_of(t) == code_of(c))
            {
                *c = t.clone();
            }
        }
    }
    out["valid"] = all_valid.into();
    match &part.reference {
        Some(r) => out[reference_field] = r.clone().into(),
        None if v.reference.is_none() => {
            if let Some(o) = out.as_object_mut() {
                o.remove(reference_field);
                o.remove("dateToExpire");
            }
        }
        None => {}
    }
    if v.reference.is_none()
        && part.reference.is_some()
        && let Some(at) = theirs.get("dateToExpire")
    {
        out["dateToExpire"] = at.clone();
    }
    out
}

/// Seed 004's list: Gameball's valid coupons join ours (naming the merged
/// lock), its invalid ones replace our "not found" for the same codes.
fn merge_seed(mut ours: Value, theirs: &Value, part: &GameballPart, asked: &dyn Fn(&Value) -> bool) -> Value {
    let mut valid: Vec<Value> = ours["validCoupons"].as_array().cloned().unwrap_or_default();
    for c in theirs["validCoupons"].as_array().into_iter().flatten() {
        let mut c = c.clone();
        c["lockReference"] = part.reference.clone().map_or(Value::Null, Value::from);
        valid.push(c);
    }
    let mut invalid: Vec<Value> = ours["invalidCoupons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| !asked(c))
        .cloned()
        .collect();
    invalid.extend(theirs["invalidCoupons"].as_array().into_iter().flatten().cloned());
    // A code Gameball named in neither list stays as Voucherify found it.
    for c in ours["invalidCoupons"].as_array().into_iter().flatten() {
        let named = |list: &[Value]| list.iter().any(|x| code_of(x) == code_of(c));
        if asked(c) && !named(&valid) && !named(&invalid) {
            invalid.push(c.clone());
        }
    }
    ours["validCoupons"] = Value::Array(valid);
    ours["invalidCoupons"] = Value::Array(invalid);
    ours
}

/// Lock details of a lock standing for both sides: Gameball's coupons
/// (from its own details) after ours.
pub fn merge_details(mut ours: Value, gameball: &[u8]) -> Value {
    let theirs: Value = serde_json::from_slice(gameball).unwrap_or(json!({}));
    if let (Some(Value::Array(list)), Some(Value::Array(more))) = (ours.get_mut("coupons"), theirs.get("coupons")) {
        list.extend(more.iter().cloned());
    }
    ours
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_narrowed_to_the_codes_asked_keeping_everything_else() {
        let body =
            br#"{"customerId":"c","coupons":["A",{"code":"B","pin":1}," C "],"lock":true,"n":12345678901234567890}"#;
        let narrowed: Value = serde_json::from_slice(&restrict(body, &["B".into(), "C".into()]).unwrap()).unwrap();
        assert_eq!(narrowed["coupons"], json!([{"code": "B", "pin": 1}, " C "]));
        assert_eq!(narrowed["lock"], true);
        let text = String::from_utf8(restrict(body, &["A".into()]).unwrap()).unwrap();
        assert!(text.contains("12345678901234567890"), "{text}");
    }

    #[test]
    fn gameballs_lock_is_released_in_the_version_that_took_it() {
        let v4 = PassOn {
            method: "POST".into(),
            path: "/api/v4.0/integrations/coupons/validate".into(),
            headers: vec![("apikey".into(), "k".into()), ("content-length".into(), "9".into())],
            body: b"{}".to_vec(),
        };
        let r = release(&v4, "g1");
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("DELETE", "/api/v4.0/integrations/coupons/g1")
        );
        assert_eq!(r.headers, [("apikey".to_owned(), "k".to_owned())]);
        let v3 = PassOn {
            path: "/api/v3.0/integrations/coupons/A/validate".into(),
            ..v4
        };
        assert_eq!(release(&v3, "h").path, "/api/v3.0/integrations/coupons/h/release");
    }

    #[test]
    fn every_shape_is_read() {
        let seed = read(br#"{"validCoupons":[{"code":"A","lockReference":"g1"}],"invalidCoupons":[{"code":"B"}]}"#);
        assert_eq!(
            (seed.valid, seed.reference),
            (vec!["A".to_owned()], Some("g1".to_owned()))
        );
        let published = read(br#"{"valid":true,"coupons":[{"code":"A"}],"lockReference":"g2"}"#);
        assert_eq!(published.valid, ["A"]);
        let atomic = read(br#"{"valid":false,"coupons":[{"code":"A"},{"code":"B","valid":false}]}"#);
        assert!(atomic.valid.is_empty(), "all or nothing");
        let hold = read(br#"{"valid":true,"coupon":{"code":"A"},"holdReference":"h"}"#);
        assert_eq!(
            (hold.valid, hold.reference),
            (vec!["A".to_owned()], Some("h".to_owned()))
        );
        assert_eq!(read(b"not json"), GameballVerdicts::default());
    }
}
