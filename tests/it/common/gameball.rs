//! A stand-in for Gameball itself, for the cutover: a server that keeps
//! its own coupons, customers' wallets, locks, orders, payments and
//! refunds, answers in Gameball's v4.0 shapes (seed by default, or the
//! published reference's), and refuses what it never issued (a lock
//! reference, a transaction) with Gameball's 404. Every request it gets is
//! kept, so a test can check what Gameball received, and how often.
//!
//! Faults: the next N calls of a path can answer 500 (or never answer),
//! for the "Gameball fails after the coupons were redeemed" cases.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use couponbridge::net::server::{self, ServeOptions};
use couponbridge::net::{json_response, read_body};
use http::{Method, Response, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::env::{API_KEY, SECRET_KEY};

/// One coupon as Gameball keeps it.
#[derive(Debug, Clone)]
pub struct GbCoupon {
    pub code: String,
    /// `Percentage`, `Fixed Rate Discount`, `Free Shipping`, `Free Product`.
    pub kind: String,
    pub value: f64,
    pub usage_limit: Option<i64>,
    pub used: i64,
    pub active: bool,
    pub start: Option<String>,
    pub expiry: Option<String>,
    /// Whose wallet holds it, if anyone's.
    pub owner: Option<String>,
    /// What the wallet says of it as `isExpired` (the stand-in keeps no time).
    pub expired: bool,
}

impl GbCoupon {
    pub fn new(code: &str, kind: &str, value: f64) -> Self {
        GbCoupon {
            code: code.into(),
            kind: kind.into(),
            value,
            usage_limit: Some(1),
            used: 0,
            active: true,
            start: None,
            expiry: None,
            owner: None,
            expired: false,
        }
    }

    pub fn owned_by(mut self, customer: &str) -> Self {
        self.owner = Some(customer.into());
        self
    }

    /// Used `used` times of `limit` (`None`: unlimited).
    pub fn uses(mut self, used: i64, limit: Option<i64>) -> Self {
        self.used = used;
        self.usage_limit = limit;
        self
    }

    /// Valid from `start` until `expiry` (ISO 8601, as Gameball writes them).
    pub fn dates(mut self, start: Option<&str>, expiry: Option<&str>) -> Self {
        self.start = start.map(str::to_owned);
        self.expiry = expiry.map(str::to_owned);
        self
    }

    pub fn inactive(mut self) -> Self {
        self.active = false;
        self
    }

    /// Listed with `isExpired: true`.
    pub fn expired(mut self) -> Self {
        self.expired = true;
        self
    }

    fn left(&self) -> bool {
        self.active && self.usage_limit.is_none_or(|l| self.used < l)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum GbLockState {
    Locked,
    Used,
    Released,
}

#[derive(Debug, Clone)]
pub struct GbLock {
    pub customer: String,
    pub codes: Vec<String>,
    pub state: GbLockState,
}

/// What the stand-in holds; tests read and seed it.
#[derive(Debug, Default)]
pub struct GbState {
    pub coupons: BTreeMap<String, GbCoupon>,
    pub locks: HashMap<String, GbLock>,
    /// Order or payment id → the bodies received for it, in order (a
    /// second one is a duplicate Gameball refused).
    pub orders: HashMap<String, Vec<Value>>,
    pub refunds: HashMap<String, Value>,
    /// Every request: method, path, body.
    pub received: Vec<(String, String, Value)>,
    /// Path prefix, what its next calls get, and how many are left.
    pub faults: Vec<(String, GbFault, u32)>,
    /// Answer validations in the published reference's shapes.
    pub published: bool,
    /// Put a `traceToken` in every validation's answer that differs from
    /// one answer to the next, as a real API's request ids and timestamps
    /// do (what shadow calibration learns to leave out).
    pub trace_tokens: bool,
    /// Trace tokens handed out so far.
    pub traced: u64,
}

pub struct Gameball {
    pub addr: SocketAddr,
    pub state: Arc<Mutex<GbState>>,
    stop: CancellationToken,
}

impl Drop for Gameball {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn error(status: u16, code: u16, message: &str) -> Response<couponbridge::net::Body> {
    json_response(
        StatusCode::from_u16(status).unwrap(),
        &json!({"code": code, "message": message, "type": "GENERAL_ERROR"}),
    )
}

fn ok(v: Value) -> Response<couponbridge::net::Body> {
    json_response(StatusCode::OK, &v)
}

fn reference() -> String {
    // Gameball's form (32 lowercase hex), random: never one of couponbridge's.
    couponbridge::ids::prefixed_hex("", 32)
}

impl Gameball {
    pub async fn start(coupons: Vec<GbCoupon>) -> Gameball {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = CancellationToken::new();
        let state = Arc::new(Mutex::new(GbState {
            coupons: coupons.into_iter().map(|c| (c.code.clone(), c)).collect(),
            ..GbState::default()
        }));
        let shared = state.clone();
        tokio::spawn(server::serve(
            listener,
            ServeOptions::default(),
            stop.clone(),
            move |req, _| {
                let state = shared.clone();
                async move {
                    let method = req.method().clone();
                    let path = req.uri().path().to_owned();
                    let authorized = req.headers().get("apikey").is_some_and(|v| v == API_KEY)
                        && req.headers().get("secretkey").is_none_or(|v| v == SECRET_KEY);
                    let body = read_body(req.into_body(), 16 << 20).await.unwrap_or_default();
                    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let fault = {
                        let mut s = state.lock().unwrap();
                        s.received.push((method.to_string(), path.clone(), body.clone()));
                        take_fault(&mut s, &path)
                    };
                    match fault {
                        Some(GbFault::Hang) => std::future::pending::<()>().await,
                        Some(GbFault::Fail) => return Ok(error(500, 5000, "Gameball failed")),
                        Some(GbFault::RateLimit) => {
                            let mut res = error(429, 429, "Too many requests");
                            res.headers_mut()
                                .insert("retry-after", http::HeaderValue::from_static("1"));
                            return Ok(res);
                        }
                        None => {}
                    }
                    if !authorized {
                        return Ok(error(401, 1000, "The apikey is not valid"));
                    }
                    let mut s = state.lock().unwrap();
                    Ok::<_, couponbridge::net::BoxError>(answer(&mut s, &method, &path, &body))
                }
            },
        ));
        Gameball { addr, state, stop }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `n` calls whose path starts with `prefix` answer 500.
    pub fn fail_next(&self, prefix: &str, n: u32) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((prefix.into(), GbFault::Fail, n));
    }

    /// The next call whose path starts with `prefix` never answers.
    pub fn hang_next(&self, prefix: &str) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((prefix.into(), GbFault::Hang, 1));
    }

    /// The next `n` calls whose path starts with `prefix` answer 429 with
    /// `Retry-After: 1`.
    pub fn rate_limit_next(&self, prefix: &str, n: u32) {
        self.state
            .lock()
            .unwrap()
            .faults
            .push((prefix.into(), GbFault::RateLimit, n));
    }

    /// The requests received whose path ends with `suffix`.
    pub fn received(&self, suffix: &str) -> Vec<(String, Value)> {
        let s = self.state.lock().unwrap();
        s.received
            .iter()
            .filter(|(_, p, _)| p.ends_with(suffix))
            .map(|(m, _, b)| (m.clone(), b.clone()))
            .collect()
    }

    /// The body an order (or payment) id was accepted with (at most one:
    /// a repeated id is refused and kept only in `received`).
    pub fn orders(&self, id: &str) -> Vec<Value> {
        self.state.lock().unwrap().orders.get(id).cloned().unwrap_or_default()
    }

    pub fn used(&self, code: &str) -> i64 {
        self.state.lock().unwrap().coupons.get(code).map_or(0, |c| c.used)
    }

    /// Locks still held (state `Locked`).
    pub fn held(&self) -> Vec<String> {
        let s = self.state.lock().unwrap();
        let mut held: Vec<String> = s
            .locks
            .values()
            .filter(|l| l.state == GbLockState::Locked)
            .flat_map(|l| l.codes.clone())
            .collect();
        held.sort();
        held
    }
}

/// What a call gets instead of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GbFault {
    Fail,
    Hang,
    RateLimit,
}

/// The fault that applies to this call, if any (and one fewer left).
fn take_fault(s: &mut GbState, path: &str) -> Option<GbFault> {
    let f = s
        .faults
        .iter_mut()
        .find(|(p, _, left)| path.starts_with(p.as_str()) && *left > 0)?;
    f.2 -= 1;
    Some(f.1)
}

fn answer(s: &mut GbState, method: &Method, path: &str, body: &Value) -> Response<couponbridge::net::Body> {
    let rest = path
        .strip_prefix("/api/v4.0/integrations")
        .or_else(|| path.strip_prefix("/api/v3.0/integrations"))
        .unwrap_or(path);
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    match (method.as_str(), parts.as_slice()) {
        ("POST", ["coupons", "validate"]) => traced(s, |s| validate(s, body, codes(&body["coupons"]), false)),
        ("POST", ["coupons", code, "validate"]) => traced(s, |s| validate(s, body, vec![(*code).to_owned()], true)),
        ("GET", ["locks", r]) => match s.locks.get(*r) {
            None => error(404, 4004, "The lock reference was not found"),
            Some(l) => ok(json!({"customerId": l.customer, "isUsed": l.state == GbLockState::Used,
                "isExpired": l.state == GbLockState::Released, "coupons": l.codes.iter().map(|c| json!({"code": c})).collect::<Vec<_>>()})),
        },
        ("DELETE", ["coupons", r]) => release(s, r),
        ("POST", ["coupons", "release"]) => release(s, body["lockReference"].as_str().unwrap_or("")),
        ("POST", ["coupons", "burn"]) => burn(s, body),
        ("POST", ["orders" | "order" | "payments"]) => order(s, body),
        ("POST", ["transactions", "refund"]) => refund(s, body["reverseTransactionId"].as_str().unwrap_or(""), body),
        ("DELETE", ["orders", id, "transactions"]) => refund(s, id, body),
        ("GET", ["customers", id, "coupons"]) => wallet(s, id),
        _ => ok(json!({"passedThrough": path})),
    }
}

fn codes(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str().or_else(|| c["code"].as_str()).map(str::to_owned))
        .collect()
}

/// A validation's answer, with a fresh `traceToken` when asked for.
fn traced(s: &mut GbState, answer: impl FnOnce(&mut GbState) -> Value) -> Response<couponbridge::net::Body> {
    let mut v = answer(s);
    if s.trace_tokens {
        s.traced += 1;
        v["traceToken"] = format!("gb-trace-{}", s.traced).into();
    }
    ok(v)
}

fn validate(s: &mut GbState, body: &Value, codes: Vec<String>, single: bool) -> Value {
    let customer = body["customerId"].as_str().unwrap_or_default().to_owned();
    let (valid, invalid): (Vec<String>, Vec<String>) = codes.into_iter().partition(|c| {
        s.coupons
            .get(c)
            .is_some_and(|c| c.left() && c.owner.as_ref().is_none_or(|o| *o == customer))
    });
    // The published reference validates a list all or nothing.
    let lock = body["lock"].as_bool() == Some(true) && !valid.is_empty() && (!s.published || invalid.is_empty());
    let r = lock.then(reference);
    if let Some(r) = &r {
        s.locks.insert(
            r.clone(),
            GbLock {
                customer,
                codes: valid.clone(),
                state: GbLockState::Locked,
            },
        );
    }
    let coupon = |c: &String| {
        let k = &s.coupons[c];
        json!({"code": c, "lockReference": r, "discountAmount": k.value, "discountType": "fixed"})
    };
    if s.published {
        let mut all: Vec<Value> = valid.iter().map(|c| json!({"code": c})).collect();
        all.extend(
            invalid
                .iter()
                .map(|c| json!({"code": c, "valid": false, "reason": "not_found"})),
        );
        let mut out = json!({"valid": invalid.is_empty()});
        if single {
            out["coupon"] = all.first().cloned().unwrap_or(Value::Null);
        } else {
            out["coupons"] = Value::Array(all);
        }
        if let Some(r) = &r {
            out["lockReference"] = r.clone().into();
        }
        return out;
    }
    if single {
        return match valid.first() {
            Some(c) => json!({"isValid": true, "lockReference": r, "discountType": "fixed",
                "discountAmount": s.coupons[c].value}),
            None => json!({"isValid": false, "lockReference": null, "discountType": null,
                "discountAmount": 0, "error": "Coupon not found"}),
        };
    }
    json!({
        "validCoupons": valid.iter().map(coupon).collect::<Vec<_>>(),
        "invalidCoupons": invalid.iter().map(|c| json!({"code": c, "error": "Coupon not found"})).collect::<Vec<_>>(),
    })
}

fn release(s: &mut GbState, r: &str) -> Response<couponbridge::net::Body> {
    match s.locks.get_mut(r) {
        None => error(404, 4004, "The lock reference was not found"),
        Some(l) if l.state == GbLockState::Used => error(400, 4000, "The lock reference was used"),
        Some(l) => {
            l.state = GbLockState::Released;
            ok(json!({"success": true, "releasedAt": "2026-01-01T00:00:00.000Z", "releasedCoupons": l.codes}))
        }
    }
}

/// A refusal: Gameball's status, code and message.
type Refused = (u16, u16, &'static str);

/// Uses a lock: its coupons count one use each.
fn use_lock(s: &mut GbState, r: &str, customer: &str) -> Result<(), Refused> {
    let l = s
        .locks
        .get_mut(r)
        .ok_or((404, 4004, "The lock reference was not found"))?;
    if l.state != GbLockState::Locked {
        return Err((400, 4000, "The lock reference is no longer active"));
    }
    if l.customer != customer {
        return Err((422, 3003, "The lock belongs to another customer"));
    }
    l.state = GbLockState::Used;
    for c in l.codes.clone() {
        if let Some(c) = s.coupons.get_mut(&c) {
            c.used += 1;
        }
    }
    Ok(())
}

fn use_codes(s: &mut GbState, codes: &[String]) -> Result<(), Refused> {
    if codes.iter().any(|c| !s.coupons.get(c).is_some_and(GbCoupon::left)) {
        return Err((400, 4000, "Coupon not valid"));
    }
    for c in codes {
        if let Some(c) = s.coupons.get_mut(c) {
            c.used += 1;
        }
    }
    Ok(())
}

fn burn(s: &mut GbState, body: &Value) -> Response<couponbridge::net::Body> {
    let customer = body["customerId"].as_str().unwrap_or_default().to_owned();
    let done = match body["lockReference"].as_str() {
        Some(r) => use_lock(s, r, &customer),
        None => use_codes(s, &codes(&body["coupons"])),
    };
    match done {
        Ok(()) => ok(json!({"success": true, "burnedAt": "2026-01-01T00:00:00.000Z"})),
        Err((status, code, message)) => error(status, code, message),
    }
}

fn order(s: &mut GbState, body: &Value) -> Response<couponbridge::net::Body> {
    let id = ["orderId", "paymentId", "transactionId"]
        .iter()
        .find_map(|k| {
            body[*k]
                .as_str()
                .map(str::to_owned)
                .or_else(|| body[*k].as_i64().map(|n| n.to_string()))
        })
        .unwrap_or_default();
    if s.orders.contains_key(&id) {
        return error(422, 9004, "Transaction ID Already Exists");
    }
    s.orders.insert(id.clone(), vec![body.clone()]);
    let customer = body["customerId"]
        .as_str()
        .or_else(|| body["playerUniqueId"].as_str())
        .unwrap_or_default()
        .to_owned();
    let redemption = &body["redemption"];
    let mut done = Ok(());
    if let Some(r) = redemption["couponsLockReference"].as_str() {
        done = use_lock(s, r, &customer);
    }
    let codes = [codes(&redemption["couponCodes"]), codes(&body["discountCodes"])].concat();
    if done.is_ok() && !codes.is_empty() {
        done = use_codes(s, &codes);
    }
    if let Err((status, code, message)) = done {
        s.orders.remove(&id);
        return error(status, code, message);
    }
    let redeemed = redemption["redeemedPoints"].as_i64().unwrap_or(0);
    let rewarded = body["totalPaid"].as_f64().map_or(0, |p| p as i64);
    ok(json!({"customerId": customer, "redeemedPoints": redeemed, "rewardedPoints": rewarded, "lineItems": []}))
}

fn refund(s: &mut GbState, id: &str, body: &Value) -> Response<couponbridge::net::Body> {
    if !s.orders.contains_key(id) {
        return error(404, 9002, "Transaction Not Found");
    }
    s.refunds.insert(id.to_owned(), body.clone());
    ok(json!({"gameballTransactionId": format!("gb-{id}"),
        "refundTransactionId": body["refundTransactionId"], "refundEquivalentPoints": 0}))
}

fn wallet(s: &GbState, customer: &str) -> Response<couponbridge::net::Body> {
    let coupons: Vec<Value> = s
        .coupons
        .values()
        .filter(|c| c.owner.as_deref() == Some(customer))
        .map(|c| {
            let mut v = json!({"name": c.code, "code": c.code, "value": c.value, "type": c.kind,
                "isExpired": c.expired, "isActive": c.active, "usedCount": c.used, "customerUsedCount": c.used,
                "isAvailableToUse": c.left() && !c.expired});
            if let Some(l) = c.usage_limit {
                v["usageLimit"] = l.into();
            }
            if let Some(d) = &c.start {
                v["startDate"] = d.clone().into();
            }
            if let Some(d) = &c.expiry {
                v["expiryDate"] = d.clone().into();
            }
            v
        })
        .collect();
    ok(json!({"coupons": coupons}))
}
