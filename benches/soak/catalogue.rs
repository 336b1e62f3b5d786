//! The catalogue: a few multi-use codes, some with limits, many single-use;
//! and how a checkout picks from it.

use rand::Rng;
use rand::rngs::StdRng;
use serde_json::{Value, json};

const MULTI: [&str; 3] = ["MULTI_AMOUNT", "MULTI_PERCENT", "MULTI_SMALL"];
pub const LIMITED: [(&str, i64); 3] = [("LIM_100", 100), ("LIM_300", 300), ("LIM_1000", 1_000)];
pub const SINGLES: usize = 400;

fn single(i: usize) -> String {
    format!("SINGLE_{i:03}")
}

/// The vouchers the simulator starts with.
pub fn catalogue() -> Value {
    let amount = |code: &str, off: i64, quantity: Option<i64>| {
        let mut v = json!({"code": code, "type": "DISCOUNT_VOUCHER",
                           "discount": {"type": "AMOUNT", "amount_off": off, "effect": "APPLY_TO_ORDER"}});
        if let Some(q) = quantity {
            v["redemption"] = json!({"quantity": q});
        }
        v
    };
    let mut all = vec![
        amount(MULTI[0], 500, None),
        json!({"code": MULTI[1], "type": "DISCOUNT_VOUCHER",
               "discount": {"type": "PERCENT", "percent_off": 10, "effect": "APPLY_TO_ORDER"}}),
        amount(MULTI[2], 100, None),
    ];
    for (code, q) in LIMITED {
        all.push(amount(code, 200, Some(q)));
    }
    for i in 0..SINGLES {
        all.push(amount(&single(i), 300, Some(1)));
    }
    Value::Array(all)
}

fn pick_code(rng: &mut StdRng) -> String {
    let r: f64 = rng.random();
    if r < 0.45 {
        MULTI[rng.random_range(0..MULTI.len())].to_owned()
    } else if r < 0.70 {
        LIMITED[rng.random_range(0..LIMITED.len())].0.to_owned()
    } else {
        single(rng.random_range(0..SINGLES))
    }
}

/// `n` different codes.
pub fn pick_codes(rng: &mut StdRng, n: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    while out.len() < n {
        let c = pick_code(rng);
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

/// A re-lock's list: the lock's codes, perhaps one dropped, one added.
pub fn relock_codes(rng: &mut StdRng, codes: &[String]) -> Vec<String> {
    let mut out = codes.to_vec();
    if out.len() > 1 && rng.random_bool(0.5) {
        out.remove(rng.random_range(0..out.len()));
    }
    for _ in 0..8 {
        let c = pick_code(rng);
        if !out.contains(&c) {
            out.push(c);
            break;
        }
    }
    out
}
