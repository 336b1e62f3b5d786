//! Shadow mode stays bounded in bytes, not only in entries, whatever size
//! Gameball's answers are: the exchanges waiting for comparison
//! (`queue_max_bytes`), the examples it writes (`example_max_bytes`) and
//! its folder (`path_max_bytes`). The store it keeps Gameball's locks in
//! is bounded too (unit-tested in `src/locks/memory.rs`).

use std::path::Path;
use std::time::{Duration, Instant};

use couponbridge::shadow::record::Line;
use couponbridge::sim::faults::{Fault, Faults};
use serde_json::json;

use crate::common::env::{Env, StoreKind};
use crate::common::metric;
use crate::common::upstream::Fixed;
use crate::shadow::{compared, series, shadow_dir};

/// A Gameball answer of about `bytes` bytes, in the seed validation shape.
fn big_answer(bytes: usize) -> &'static str {
    let pad = "x".repeat(bytes);
    Box::leak(format!(r#"{{"validCoupons":[],"invalidCoupons":[],"pad":"{pad}"}}"#).into_boxed_str())
}

async fn shadowing(gameball: &Fixed, dir: &Path, shadow: &str) -> Env {
    Env::builder(StoreKind::Memory)
        .toml(&format!(
            "[passthrough]\nupstream = \"{}\"\n[routes]\nvalidate = \"shadow\"\n[shadow]\npath = \"{}\"\n{shadow}\n",
            gameball.url,
            dir.display()
        ))
        .start()
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_waiting_for_comparison_are_bounded_in_bytes() {
    let gameball = Fixed::start(big_answer(900_000)).await;
    let dir = shadow_dir("queue-bytes");
    let env = shadowing(&gameball, &dir, "queue_max_bytes = 2000000\nconcurrency = 8").await;
    // The comparisons wait in the shadow's Voucherify: what is queued stays.
    env.sim.sim.set_faults(Faults {
        script: [Fault::Hold].into(),
        path_prefix: Some("/v1/validations".into()),
        ..Faults::default()
    });
    for i in 0..10 {
        let r = env
            .validate(json!({"customerId": format!("c{i}"), "coupons": ["AMOUNT10"]}))
            .await;
        assert_eq!(
            r.status, 200,
            "the merchant gets Gameball's answer whatever the shadow does"
        );
    }
    let m = compared(&env, "validate", 8.0).await;
    assert_eq!(
        metric(&m, &series("validate", "dropped")),
        8.0,
        "two 900 KB exchanges fit in 2 MB, the eight after them do not: {m}"
    );
    env.sim.sim.set_faults(Faults::default());
    let m = compared(&env, "validate", 10.0).await;
    assert_eq!(
        metric(&m, &series("validate", "mismatch")),
        2.0,
        "the two queued were compared once Voucherify answered: {m}"
    );
}

fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

/// Every line of the folder's files.
fn written(dir: &Path) -> Vec<Line> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        out.extend(text.lines().filter_map(|l| serde_json::from_str::<Line>(l).ok()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_examples_and_the_folder_are_bounded_in_bytes() {
    let gameball = Fixed::start(big_answer(200_000)).await;
    let dir = shadow_dir("folder-bytes");
    let env = shadowing(&gameball, &dir, "example_max_bytes = 1024\npath_max_bytes = 65536").await;
    let n = 80;
    for i in 0..n {
        let r = env
            .validate(json!({"customerId": format!("c{i}"), "coupons": ["AMOUNT10"]}))
            .await;
        assert_eq!(r.status, 200);
    }
    compared(&env, "validate", n as f64).await;
    // The last tally names every comparison once it is written.
    let deadline = Instant::now() + Duration::from_secs(15);
    let lines = loop {
        let lines = written(&dir);
        let counted = lines.iter().any(|l| match l {
            Line::Tally(t) => t.routes.get("validate").is_some_and(|c| c.mismatch == n),
            _ => false,
        });
        if counted || Instant::now() > deadline {
            break lines;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mismatches: Vec<_> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Mismatch(m) => Some(m),
            _ => None,
        })
        .collect();
    assert!(!mismatches.is_empty(), "the newest examples are kept");
    for m in &mismatches {
        let body = m.call.gameball.body.as_str().unwrap_or_default();
        assert!(
            body.starts_with('<') && body.contains("example_max_bytes"),
            "a 200 KB body is written as a note of its size: {body:.80}"
        );
    }
    assert!(
        mismatches.len() < n as usize,
        "the oldest files were deleted: {} of {n} examples left",
        mismatches.len()
    );
    let bytes = folder_bytes(&dir);
    assert!(
        bytes <= 2 * 65_536 + 8_192,
        "the folder holds at most path_max_bytes beside the file being written: {bytes} bytes"
    );
}
