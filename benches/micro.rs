//! Micro-benchmarks of the hot pure code: request parsing, translation each
//! way, money conversion, lock-record encoding; and the replay runner over
//! a 10,000-exchange recording, its pure parts and end to end.
//!
//!     cargo bench --bench micro
//!
//! Read the figures as ratios between these functions in one run: the
//! machines this runs on are shared and noisy.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};

use couponbridge::clock::Clock;
use couponbridge::compare::{Comparer, RulesFile};
use couponbridge::config::{LockConfig, Messages, V4Dialect};
use couponbridge::domain::{Answer, CustomerIds, Validation, Verdict};
use couponbridge::gameball::routes::route;
use couponbridge::gameball::{ParseCtx, RenderCtx, RequestView, validate};
use couponbridge::locks::LockRecord;
use couponbridge::money::DecimalNumber;
use couponbridge::replay::{Auth, load, replay_against};
use couponbridge::translate;
use couponbridge::voucherify::ValidationResponse;
use couponbridge::{demo, serve};
use http::{HeaderMap, Method};

const VALIDATE: &[u8] = br#"{"customerId":"cust-1","coupons":["SAVE10",{"code":"TAKE20","pin":"1"}],"lock":true,"lockDuration":15,"totalPurchaseAmount":250.5,"email":"jane@example.com"}"#;

fn voucherify_answer() -> Vec<u8> {
    let redeemable = |id: &str| {
        json!({"status": "APPLICABLE", "id": id, "object": "voucher",
               "order": {"amount": 25050, "discount_amount": 2505, "total_discount_amount": 2505, "total_amount": 22545,
                         "applied_discount_amount": 2505, "total_applied_discount_amount": 2505, "metadata": {}, "object": "order"},
               "applicable_to": {"data": [], "total": 0, "data_ref": "data", "object": "list"},
               "inapplicable_to": {"data": [], "total": 0, "data_ref": "data", "object": "list"},
               "result": {"discount": {"type": "PERCENT", "percent_off": 10, "amount_limit": 5000, "effect": "APPLY_TO_ORDER"}},
               "metadata": {}})
    };
    serde_json::to_vec(&json!({
        "id": "valid_0a1b2c3d4e5f6a7b8c", "valid": true,
        "redeemables": [redeemable("SAVE10"), redeemable("TAKE20")],
        "inapplicable_redeemables": [], "skipped_redeemables": [],
        "order": {"amount": 25050, "total_discount_amount": 5010, "total_amount": 20040, "object": "order", "metadata": {}},
        "tracking_id": "track_0123456789abcdef",
        "session": {"key": "cbs_0123456789abcdef0123456789abcdef", "type": "LOCK", "ttl": 15, "ttl_unit": "MINUTES"},
        "stacking_rules": {"redeemables_limit": 30, "applicable_redeemables_limit": 5, "redeemables_application_mode": "ALL"}
    }))
    .unwrap()
}

fn record() -> LockRecord {
    LockRecord {
        tenant: "shop".into(),
        reference: "5e21ff4baf5d4760a8a43c7b2513298e".into(),
        customer_id: "cust-1".into(),
        session_key: "cbs_0123456789abcdef0123456789abcdef".into(),
        codes: vec!["SAVE10".into(), "TAKE20".into()],
        amount_minor: Some(25050),
        created_at: 1_767_225_600_000,
        expires_at: 1_767_226_500_000,
        ..LockRecord::default()
    }
}

fn translation(c: &mut Criterion) {
    let matched = route(&Method::POST, "/api/v4.0/integrations/coupons/validate").unwrap();
    let headers = HeaderMap::new();
    let locks = LockConfig {
        default_duration: Duration::from_secs(600),
        max_duration: Duration::from_secs(86_400),
        retention: Duration::from_secs(86_400),
        order_retention: Duration::from_secs(86_400),
        release_retry_every: Duration::from_secs(5),
    };
    c.bench_function("parse a Gameball validate request", |b| {
        b.iter(|| {
            let view = RequestView {
                method: "POST",
                path: "/api/v4.0/integrations/coupons/validate",
                params: &matched.params,
                query: None,
                headers: &headers,
                body: black_box(VALIDATE),
            };
            (validate::MULTI.parse)(
                V4Dialect::Seed,
                &view,
                &ParseCtx {
                    decimals: 2,
                    locks: &locks,
                },
            )
            .unwrap()
        })
    });
    let codes = vec!["SAVE10".to_string(), "TAKE20".to_string()];
    c.bench_function("Gameball → Voucherify: build and encode a locking validation", |b| {
        let customer = CustomerIds {
            id: "cust-1".into(),
            email: Some("jane@example.com".into()),
            mobile: None,
        };
        b.iter(|| {
            let req = translate::validation_request(
                black_box(&codes),
                &customer,
                Some(25050),
                Some(("cbs_0123456789abcdef0123456789abcdef", Duration::from_secs(900))),
            );
            serde_json::to_vec(&req).unwrap()
        })
    });
    let answer = voucherify_answer();
    let messages = Messages::default();
    c.bench_function(
        "Voucherify → Gameball: decode an answer and write validCoupons",
        |b| {
            b.iter(|| {
                let resp: ValidationResponse = serde_json::from_slice(black_box(&answer)).unwrap();
                let verdicts = translate::outcomes(&codes, &resp)
                    .into_iter()
                    .map(|outcome| Verdict { outcome, terms: None })
                    .collect();
                let v = Validation {
                    customer_id: "cust-1".into(),
                    reference: Some("5e21ff4baf5d4760a8a43c7b2513298e".into()),
                    expires_at: Some(1_767_226_500_000),
                    verdicts,
                    amount_known: true,
                    gameball: None,
                };
                let cx = RenderCtx {
                    decimals: 2,
                    messages: &messages,
                };
                (validate::MULTI.render)(V4Dialect::Seed, &Answer::Validated(v), &cx).unwrap()
            })
        },
    );
}

fn money(c: &mut Criterion) {
    c.bench_function("money: 250.55 → minor units", |b| {
        b.iter(|| DecimalNumber::parse(black_box("250.55")).unwrap().to_minor(2).unwrap())
    });
    c.bench_function("money: minor units → JSON number", |b| {
        b.iter(|| serde_json::to_string(&DecimalNumber::from_minor(black_box(25055), 2)).unwrap())
    });
}

fn lock_records(c: &mut Criterion) {
    let rec = record();
    c.bench_function("lock record → Redis hash fields", |b| {
        b.iter(|| black_box(&rec).to_fields())
    });
    let fields: HashMap<String, String> = rec.to_fields().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    c.bench_function("Redis hash fields → lock record", |b| {
        b.iter(|| LockRecord::from_fields(black_box(&fields)).unwrap())
    });
}

/// A recording of 10,000 exchanges (validate, lock details, release) in
/// the shapes the demo stack answers, so replaying it against that stack
/// is clean.
fn recording(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("10k.jsonl");
    let mut text = String::new();
    for i in 0..10_000 {
        let reference = format!("{:032x}", i / 3);
        let (method, url, body, answer) = match i % 3 {
            0 => (
                "POST",
                "/api/v4.0/integrations/coupons/validate".to_owned(),
                r#"{"customerId":"c","coupons":["SAVE10"],"lock":true,"totalPurchaseAmount":250}"#.to_owned(),
                json!({"validCoupons": [{"code": "SAVE10", "lockReference": reference, "discountAmount": 25, "discountType": "percentage"}], "invalidCoupons": []}),
            ),
            1 => (
                "GET",
                format!("/api/v4.0/integrations/locks/{reference}"),
                String::new(),
                json!({"customerId": "c", "isUsed": false, "usedAt": null, "isExpired": false, "expiredAt": "2026-01-01T00:10:00.000Z",
                       "coupons": [{"code": "SAVE10", "type": "percentage", "value": 10, "usageLimit": null, "limitPerCustomer": null,
                                    "startDate": null, "expiryDate": null, "capping": 50, "minReward": 0, "minOrderValue": 0,
                                    "entitledProductIds": [], "entitledVariantIds": [], "entitledCollectionIds": [], "entitledMerchantIds": [],
                                    "combinesWith": {"orderDiscounts": true, "productDiscounts": true, "shippingDiscounts": true}}]}),
            ),
            _ => (
                "DELETE",
                format!("/api/v4.0/integrations/coupons/{reference}"),
                String::new(),
                json!({"success": true, "releasedAt": "2026-01-01T00:00:00.000Z", "releasedCoupons": ["SAVE10"]}),
            ),
        };
        let entry = json!({"_id": format!("ex_{i}"), "_kind": "gameball", "startedDateTime": "2026-01-01T00:00:00.000Z", "time": 1.0,
            "request": {"method": method, "url": format!("http://h{url}"), "headers": [{"name": "apikey", "value": "<redacted>"}],
                        "postData": {"mimeType": "application/json", "text": body}},
            "response": {"status": 200, "content": {"mimeType": "application/json", "text": answer.to_string()}}});
        text.push_str(&entry.to_string());
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn replay(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("couponbridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = recording(&dir);
    let mut g = c.benchmark_group("replay of a 10,000-exchange recording");
    g.sample_size(10);
    g.bench_function("load", |b| b.iter(|| load::load(&[&path]).unwrap()));
    let loaded = load::load(&[&path]).unwrap();
    let parsed: Vec<Value> = loaded
        .exchanges
        .iter()
        .map(|e| serde_json::from_str(&e.answer.body).unwrap())
        .collect();
    g.bench_function("compare every answer (carrying references)", |b| {
        b.iter(|| {
            let mut cmp = Comparer::new(&[]);
            let mut mismatches = 0;
            for (ex, expected) in loaded.exchanges.iter().zip(&parsed) {
                let _ = cmp.carry(&ex.path);
                mismatches += cmp.compare(&ex.label(), expected, expected).len();
            }
            mismatches
        })
    });

    // The whole runner: every exchange sent over HTTP to an adapter and the
    // simulator in-process (the demo stack), answers compared.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (sim, adapter) = rt.block_on(async {
        let sim = demo::simulator(Clock::System).await.unwrap();
        let cfg = demo::config("127.0.0.1:0".parse().unwrap(), None, &sim.base_url());
        let adapter = serve::start(&cfg, Clock::System).await.unwrap();
        (sim, adapter)
    });
    let auth = Auth {
        apikey: Some(demo::API_KEY.into()),
        secretkey: Some(demo::SECRET_KEY.into()),
    };
    let base = adapter.base_url();
    let rules = RulesFile::default();
    let report = rt.block_on(replay_against(&loaded, &base, &auth, &rules, None));
    assert_eq!(
        (report.passed, report.failed),
        (10_000, 0),
        "the recording replays clean"
    );
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("load, send and compare against the demo stack", |b| {
        b.iter(|| {
            let loaded = load::load(&[&path]).unwrap();
            rt.block_on(replay_against(&loaded, &base, &auth, &rules, None)).failed
        })
    });
    g.finish();
    rt.block_on(adapter.shutdown());
    drop(sim);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, translation, money, lock_records, replay);
criterion_main!(benches);
