//! The report: a Markdown document on stdout and in
//! `bench-results/soak.md`, and every lock's history, one JSON object a
//! line, in `bench-results/soak-locks.jsonl`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::args::Args;
use crate::catalogue::{LIMITED, SINGLES};
use crate::disrupt::Window;
use crate::invariants::{Check, Evidence, Verdict, answered_per_voucher, used_per_voucher};
use crate::log::{End, EndOp, Outcome};
use crate::probe::Probe;
use crate::settings::UPSTREAM_TIMEOUT_MS;
use crate::text::{examples, list_or_none, state_name, table};
use crate::timeline::{self, Traffic};

/// Everything the report is made of.
pub struct Findings<'a> {
    pub args: &'a Args,
    pub redis_url: String,
    /// Redis's own `appendonly` and `appendfsync`, as it answered.
    pub appendonly: String,
    pub appendfsync: String,
    pub evidence: &'a Evidence<'a>,
    pub checks: &'a [Check],
    pub verdict: &'a Verdict,
    pub settle_rounds: usize,
    pub windows: &'a [Window],
    pub probes: &'a [Probe],
    /// couponbridge's own count of failed Voucherify calls, by kind.
    pub upstream_errors: BTreeMap<String, u64>,
}

pub fn markdown(f: &Findings) -> String {
    let log = f.evidence.log;
    let traffic = Traffic::new(log, f.args.seconds);
    let mut md = header(f);
    md.push_str(&invariants(f.checks, f.verdict));
    md.push_str(&vouchers(f.evidence));
    md.push_str(&outcomes(f));
    md.push_str(&timeline::per_operation(log, &traffic));
    md.push_str(&timeline::faults(f.windows, &traffic));
    md.push_str(&format!(
        "\ncouponbridge's own count of failed Voucherify calls (`couponbridge_upstream_errors_total`, all instances): {}.\n",
        list_or_none(f.upstream_errors.iter().map(|(k, v)| format!("{k} {v}")).collect())
    ));
    if !f.verdict.burning.is_empty() {
        md.push_str(&format!("\nStill `burning`: {}\n", examples(&f.verdict.burning)));
    }
    md.push_str(&timeline::failures(log));
    md.push_str(&timeline::seconds(&traffic, f.probes, f.windows));
    md.push_str(&suspects(f.evidence, f.checks));
    md
}

fn header(f: &Findings) -> String {
    let a = f.args;
    format!(
        "## Soak: {} s, {} workers, seed {}\n\n\
         couponbridge in-process on Redis {} (`appendonly {}`, `appendfsync {}`), \
         the Voucherify simulator in-process (upstream deadline {UPSTREAM_TIMEOUT_MS} ms), \
         all on loopback. Repeat: `benches/soak.sh --seconds {} --seed {}`.\n\n",
        a.seconds, a.workers, a.seed, f.redis_url, f.appendonly, f.appendfsync, a.seconds, a.seed
    )
}

fn invariants(checks: &[Check], v: &Verdict) -> String {
    let mut md = String::from("### Invariants\n\n");
    md.push_str(&table(
        &["invariant", "count", "detail"],
        &checks
            .iter()
            .map(|c| vec![c.name.clone(), c.count.to_string(), c.detail.replace('|', "\\|")])
            .collect::<Vec<_>>(),
    ));
    md.push_str(&format!(
        "\n**{}**: {} violation(s); {} left unchecked \
         (outcomes still unknown {}, locks still `burning` {}, references not read {}).\n\n",
        v.word(),
        v.violations,
        v.inconclusive(),
        v.pending_left,
        v.burning.len(),
        v.unread,
    ));
    md
}

/// Per voucher: redeemed in Voucherify, used in the store, answered used;
/// the single-use ones summed in one row.
fn vouchers(e: &Evidence) -> String {
    let used_per_voucher = used_per_voucher(e);
    let answered_per_voucher = answered_per_voucher(e);
    let mut rows = Vec::new();
    let mut single = (0i64, 0i64, 0i64, 0usize);
    for (code, redeemed) in &e.view.redeemed {
        let used = used_per_voucher.get(code).copied().unwrap_or(0);
        let ans = answered_per_voucher.get(code).copied().unwrap_or(0);
        if code.starts_with("SINGLE_") {
            single.0 += redeemed;
            single.1 += used;
            single.2 += ans;
            single.3 += usize::from(*redeemed != used);
            continue;
        }
        let limit = LIMITED
            .iter()
            .find(|(c, _)| c == code)
            .map_or("∞".to_owned(), |(_, q)| q.to_string());
        rows.push(vec![
            format!("`{code}`"),
            limit,
            redeemed.to_string(),
            used.to_string(),
            ans.to_string(),
            if *redeemed == used { "0" } else { "1" }.into(),
        ]);
    }
    rows.push(vec![
        format!("`SINGLE_000`…`SINGLE_{:03}` (sum)", SINGLES - 1),
        "1 each".into(),
        single.0.to_string(),
        single.1.to_string(),
        single.2.to_string(),
        single.3.to_string(),
    ]);
    let mut md = String::from("### Redemptions per voucher\n\n");
    md.push_str(&table(
        &[
            "voucher",
            "limit",
            "redeemed in Voucherify",
            "locks used in store",
            "answered used to a client",
            "mismatching vouchers",
        ],
        &rows,
    ));
    md
}

/// How each end of a lock (burn, order, release) turned out, then the
/// rest in one paragraph.
fn outcomes(f: &Findings) -> String {
    let log = f.evidence.log;
    let rows: Vec<Vec<String>> = [(End::Burn, "burn"), (End::Order, "order"), (End::Release, "release")]
        .into_iter()
        .map(|(kind, name)| {
            let ops: Vec<&EndOp> = log.ops.iter().filter(|o| o.kind == kind).collect();
            let count = |f: &dyn Fn(&EndOp) -> bool| ops.iter().filter(|o| f(o)).count().to_string();
            vec![
                name.to_owned(),
                ops.len().to_string(),
                count(&|o| o.attempts.len() == 1 && o.outcome.is_done()),
                count(&|o| o.attempts.len() > 1 && o.outcome.is_done()),
                count(&|o| o.outcome.is_done()),
                count(&|o| matches!(o.outcome, Outcome::Refused(..))),
                count(&|o| o.outcome == Outcome::NotFound),
                count(&|o| o.outcome == Outcome::Pending),
                count(&|o| o.raced),
            ]
        })
        .collect();
    let mut md = String::from("\n### Outcomes of the end of each lock\n\n");
    md.push_str(&table(
        &[
            "operation",
            "sent",
            "done on the first answer",
            "done after a retry",
            "done (total)",
            "refused",
            "404",
            "never settled",
            "raced by a re-lock",
        ],
        &rows,
    ));
    md.push_str(&outcomes_paragraph(f));
    md
}

fn times(counts: &BTreeMap<String, usize>) -> Vec<String> {
    counts.iter().map(|(k, v)| format!("{k} ×{v}")).collect()
}

fn outcomes_paragraph(f: &Findings) -> String {
    let (e, log) = (f.evidence, f.evidence.log);
    let mut refusals: BTreeMap<String, usize> = BTreeMap::new();
    for o in &log.ops {
        if let Outcome::Refused(s, c) = o.outcome {
            *refusals.entry(format!("{s}/{c}")).or_default() += 1;
        }
    }
    let mut states: BTreeMap<&str, usize> = BTreeMap::new();
    for rec in e.records.values() {
        *states.entry(state_name(rec.state)).or_default() += 1;
    }
    let states_text: Vec<String> = states.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let answered = e.answered();
    let s = &e.sessions;
    format!(
        "\nRefusals (status/code): {}. Locks answered 200: {}; in the store at the end: {} ({}); \
         created but never answered to a client: {}. Re-locks that released the lock (nothing valid left): {}. \
         Repeats of a done burn/order answered like the first: {} (other: {}). \
         Lock details 404 during traffic: {}. Settling rounds: {}. \
         Live sessions at the end: {} on live locks, {} on `burning` locks, {} with no lock record{}. \
         Redemptions rolled back: {}.\n\n",
        list_or_none(times(&refusals)),
        answered.len(),
        e.records.len(),
        states_text.join(", "),
        e.records.keys().filter(|r| !answered.contains(r.as_str())).count(),
        log.relock_released,
        log.repeats_as_first,
        list_or_none(times(&log.repeats_other)),
        log.details_404_live,
        f.settle_rounds,
        s.on_live,
        s.on_burning,
        s.orphans.len(),
        if s.orphans.is_empty() {
            String::new()
        } else {
            format!(
                " (left by a validation whose release failed; they end at their TTL: {})",
                examples(&s.orphans)
            )
        },
        e.view.rolled_back,
    )
}

/// The histories of the locks behind the violations (the first 8).
fn suspects(e: &Evidence, checks: &[Check]) -> String {
    let suspects: Vec<_> = checks.iter().flat_map(|c| &c.suspects).take(8).collect();
    if suspects.is_empty() {
        return String::new();
    }
    let mut md = String::from("\n### Locks behind the violations (first 8)\n\n");
    for (why, reference) in suspects {
        let rec = e.records.get(reference);
        md.push_str(&format!(
            "- {why}: `{reference}`, in the store: {}\n",
            rec.map_or("absent".to_owned(), |r| format!(
                "{} codes {:?} session `{}`",
                state_name(r.state),
                r.codes,
                r.session_key
            ))
        ));
        if let Some(i) = e.log.by_reference.get(reference) {
            for h in &e.log.locks[*i].history {
                md.push_str(&format!("  - {h}\n"));
            }
        }
        let sessions: Vec<&str> = rec
            .map(|r| {
                e.view
                    .sessions
                    .iter()
                    .filter(|(k, _)| *k == r.session_key)
                    .map(|(_, v)| v.as_str())
                    .collect()
            })
            .unwrap_or_default();
        md.push_str(&format!("  - live sessions at the end: {sessions:?}\n"));
    }
    md
}

/// Every lock answered, with what was asked and answered about it and its
/// state at the end: one JSON object a line.
pub fn locks_jsonl(e: &Evidence) -> String {
    let mut lines = String::new();
    for l in &e.log.locks {
        let rec = e.records.get(&l.reference);
        let line = json!({
            "reference": l.reference,
            "codes_answered": l.codes,
            "state": rec.map(|r| state_name(r.state)),
            "codes_stored": rec.map(|r| r.codes.clone()),
            "redeemed_in_voucherify": e.view.codes_per_lock.get(&l.reference),
            "history": l.history,
        });
        lines.push_str(&line.to_string());
        lines.push('\n');
    }
    lines
}

/// Prints the Markdown and writes both files to `bench-results/`.
pub fn publish(md: &str, jsonl: &str) {
    println!("{md}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench-results");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|_| std::fs::write(dir.join("soak-locks.jsonl"), jsonl))
        .and_then(|_| std::fs::write(dir.join("soak.md"), md));
    match written {
        Ok(()) => eprintln!("soak: wrote {}", dir.join("soak.md").display()),
        Err(e) => eprintln!("soak: cannot write {}: {e}", dir.display()),
    }
}
