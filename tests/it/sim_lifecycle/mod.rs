//! The simulator's coupon-lifecycle resources against Voucherify's
//! contract: campaigns, publications, voucher lists, loyalty programs and
//! rewards, qualifications, and rollbacks. Every `/v1` answer is held to
//! the whole-API production spec (`spec`), or to the split specs for an
//! operation it lacks.

mod campaigns;
mod import_endpoints;
mod loyalty;
mod qualifications;
mod rollbacks;
mod seeding;
mod spec;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use couponbridge::clock::{Clock, parse_iso};
use couponbridge::sim::{RunningSim, SimBuilder};
use serde_json::{Value, json};

use crate::common::contract::Contract;
use crate::common::{Client, Reply, SIM_AUTH};
use spec::ReadOnlySpec;

const T0: &str = "2026-01-01T00:00:00.000Z";

pub struct Sim {
    pub running: RunningSim,
    client: Client,
    checked: Arc<AtomicUsize>,
}

impl Sim {
    pub(super) async fn start() -> Sim {
        Self::seeded(json!([])).await
    }

    pub(super) async fn seeded(seed: Value) -> Sim {
        let clock = Clock::manual(parse_iso(T0).unwrap());
        let running = SimBuilder::new()
            .seed(seed)
            .clock(clock)
            .start("127.0.0.1:0")
            .await
            .unwrap();
        Sim {
            running,
            client: Client::new(),
            checked: Arc::new(AtomicUsize::new(0)),
        }
    }

    pub(super) async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.running.base_url());
        let reply = self.client.send(method, &url, &SIM_AUTH, body.as_ref()).await;
        if path.starts_with("/v1/") && !reply.body.is_empty() {
            let path_only = path.split('?').next().unwrap();
            // The production spec where it has the operation; the split
            // specs (legacy endpoints) otherwise. The split specs' reward
            // result requires members no reward has (`reward` inside
            // itself, `product`, `sku` and `loyalty_tier_id` at once).
            let spec = ReadOnlySpec::get();
            let checked = if spec.template(method, path_only).is_some() {
                spec.check(method, path_only, reply.status, &reply.body)
            } else {
                Contract::get().check(method, path_only, reply.status, &reply.body)
            };
            if checked {
                self.checked.fetch_add(1, Ordering::Relaxed);
            }
        }
        reply
    }

    /// A call that must answer 200; its JSON.
    pub(super) async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(method, path, body).await;
        assert_eq!(r.status, 200, "{method} {path}: {}", r.text());
        r.json()
    }

    /// A call that must fail with `status` and `key`; the error.
    pub(super) async fn fails(&self, method: &str, path: &str, body: Option<Value>, status: u16, key: &str) -> Value {
        let r = self.call(method, path, body).await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text());
        let e = r.json();
        assert_eq!(e["key"], key, "{method} {path}: {e}");
        e
    }

    pub(super) fn checked(&self) -> usize {
        self.checked.load(Ordering::Relaxed)
    }
}

pub(super) fn discount_campaign(name: &str) -> Value {
    json!({"name": name, "campaign_type": "DISCOUNT_COUPONS", "type": "AUTO_UPDATE",
           "voucher": {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1500, "effect": "APPLY_TO_ORDER"},
                       "redemption": {"quantity": 1}, "code_config": {"length": 10, "prefix": "RW-"}}})
}

pub(super) fn codes(list: &Value) -> Vec<String> {
    list["vouchers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["code"].as_str().unwrap().to_owned())
        .collect()
}
