//! `couponbridge import-coupons`: copies customers' wallets from Gameball
//! to Voucherify, for the cutover (docs/cutover.md, step 2).
//!
//! For each customer of the customers file ([`customers`]), the tenant's
//! Gameball lists the wallet ([`gameball`]); each coupon is mapped to the
//! voucher it becomes, or skipped with its reason ([`mapping`]); the
//! voucher is created under the same code and published to the customer
//! ([`apply`]); and every coupon gets a line in the report ([`report`]).
//!
//! The decisions, and why:
//!
//! * **No state of its own.** The voucher in Voucherify is the record: a
//!   code Voucherify holds is read back and compared with what would be
//!   created (the same: "already there"; anything else: a conflict,
//!   reported, never overwritten), and a publication is looked for before
//!   one is made. So a second run creates nothing, and a run killed
//!   anywhere is finished by the next (a voucher created but not yet
//!   published gets its publication then).
//! * **Nothing Gameball would refuse becomes usable**: used-up, expired and
//!   inactive coupons are skipped, with the reason.
//! * **Bounded**: `--concurrency` customers at once (4 by default), each
//!   one call at a time. A `429` from either service holds every call to
//!   it until its `Retry-After` has passed (at most a minute a time, with
//!   jitter, eight times a call), then the same call goes again; any other
//!   failure fails the coupon, with its reason in the report.
//! * **`--dry-run` makes no Voucherify write at all**: it has no writing
//!   client ([`apply::Target::writes`] is `None`). It reads Gameball and
//!   what Voucherify holds, and the counts say what an import would do.
//! * **`--verify`** reads both and compares them coupon by coupon
//!   ([`verify`]), each difference printed.
//! * **Output**: a problem (conflict, failure, difference) is one line on
//!   standard output as it happens; the last line is the counts
//!   (`created N, already there N, skipped N, conflicts N, failed N`, or
//!   `verified N, different N, skipped N, failed N`). A counter on standard
//!   error while it is a terminal. Exit 0 when all went well, 1 when a
//!   coupon failed or conflicted (or differs, with `--verify`), 2 for a
//!   usage or configuration error, before anything is read.
//! * **Secrets**: the tenant's Gameball keys and Voucherify token come from
//!   the configuration (and `COUPONBRIDGE_*`) and are sent as headers,
//!   marked sensitive; no message, line or report holds them.

mod apply;
pub mod customers;
pub mod gameball;
pub mod mapping;
mod pace;
pub mod report;
mod verify;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use futures_util::StreamExt;

use crate::clock::{Clock, Millis};
use crate::config::{Config, PassthroughConfig, TenantConfig};
use crate::metrics::Metrics;
use crate::net::client::{self, ClientOptions, HttpClient};
use crate::voucherify::client::{CallCtx, Upstream, VoucherifyClient};
use apply::Target;
use gameball::Gameball;
use mapping::Plan;
use pace::Pacer;
use report::{Entry, Outcome, Progress, Report};

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// TOML file (default config/couponbridge.toml); COUPONBRIDGE_* variables override it.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The tenant whose wallets to copy: its Gameball keys, currency and Voucherify project.
    #[arg(long)]
    pub tenant: String,
    /// Gameball customer ids, one a line (blank lines and # comments ignored); - for standard input.
    #[arg(long, value_name = "FILE|-")]
    pub customers: PathBuf,
    /// Read Gameball and Voucherify, write nothing: the counts say what an import would do.
    #[arg(long, conflicts_with = "verify")]
    pub dry_run: bool,
    /// Compare what Voucherify holds with what Gameball says, coupon by coupon; write nothing.
    #[arg(long)]
    pub verify: bool,
    /// Write a JSON report, an entry per coupon, to this file.
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Customers worked on at once (each one call at a time).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Import,
    DryRun,
    Verify,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Import => "import",
            Mode::DryRun => "dry_run",
            Mode::Verify => "verify",
        }
    }
}

/// What a run needs, checked before anything is read.
struct Setup {
    tenant: TenantConfig,
    passthrough: PassthroughConfig,
    customers: Vec<String>,
    http: HttpClient,
}

fn setup(args: &ImportArgs) -> Result<Setup, String> {
    let cfg = Config::load(args.config.as_deref()).map_err(|errors| errors.to_string())?;
    let tenant = cfg
        .tenants
        .iter()
        .find(|t| t.name == args.tenant)
        .cloned()
        .ok_or_else(|| {
            let names: Vec<&str> = cfg.tenants.iter().map(|t| t.name.as_str()).collect();
            format!(
                "no tenant {:?} in the configuration (it has: {})",
                args.tenant,
                names.join(", ")
            )
        })?;
    let passthrough = cfg.passthrough.clone().ok_or(
        "the import reads wallets from Gameball at [passthrough] upstream, which the configuration does not set",
    )?;
    let customers = customers::read(&args.customers)?;
    if let Some(path) = &args.report {
        writable(path)?;
    }
    let mut extra_ca = Vec::new();
    for path in &cfg.upstream_tls.extra_ca {
        extra_ca.extend(crate::net::tls::load_certs(path).map_err(|e| e.to_string())?);
    }
    let http = client::build(&ClientOptions {
        roots: cfg.upstream_tls.roots,
        extra_ca,
        ..ClientOptions::default()
    })
    .map_err(|e| e.to_string())?;
    Ok(Setup {
        tenant,
        passthrough,
        customers,
        http,
    })
}

/// Whether the report can be written where asked, found out before the
/// import rather than after it.
fn writable(path: &Path) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(drop)
        .map_err(|e| format!("cannot write the report to {}: {e}", path.display()))
}

pub async fn run(args: ImportArgs) -> ExitCode {
    let usage = |message: String| {
        eprintln!("couponbridge import-coupons: {}", message.trim_end());
        ExitCode::from(2)
    };
    let s = match setup(&args) {
        Ok(s) => s,
        Err(message) => return usage(message),
    };
    let mode = match (args.dry_run, args.verify) {
        (_, true) => Mode::Verify,
        (true, _) => Mode::DryRun,
        _ => Mode::Import,
    };
    let gameball = match Gameball::new(s.http.clone(), &s.passthrough, &s.tenant) {
        Ok(g) => g,
        Err(message) => return usage(message),
    };
    let upstream = match Upstream::new(&s.tenant.voucherify) {
        Ok(u) => u,
        Err(_) => return usage("the tenant's Voucherify app_token is not a header value".into()),
    };
    let voucherify = VoucherifyClient::new(s.http, Arc::new(Metrics::new()));
    // One id for the run's calls, so Voucherify's logs can find them.
    let request_id = crate::ids::prefixed("import_", 20);
    let project = voucherify.project(
        &upstream,
        CallCtx {
            request_id: &request_id,
            tap: None,
            trace: None,
        },
    );
    let pacer = Pacer::default();
    let job = Job {
        gameball: &gameball,
        target: Target {
            project,
            // The only place the import may write, and only when importing.
            writes: (mode == Mode::Import).then(|| project.writes()),
            pacer: &pacer,
        },
        mode,
        decimals: s.tenant.currency_decimals,
        now: Clock::System.now(),
        progress: Progress::new(s.customers.len(), mode == Mode::Verify),
    };
    let entries = job.all(&s.customers, args.concurrency.into()).await;
    finish(&job, &s.tenant.name, &entries, args.report.as_deref())
}

/// One run.
struct Job<'a> {
    gameball: &'a Gameball,
    target: Target<'a>,
    mode: Mode,
    decimals: u32,
    now: Millis,
    progress: Progress,
}

impl Job<'_> {
    /// Every customer's entries, in the customers file's order, wallets in
    /// Gameball's.
    async fn all(&self, customers: &[String], concurrency: usize) -> Vec<Entry> {
        let stop = tokio_util::sync::CancellationToken::new();
        let work = async {
            let mut done: Vec<(usize, Vec<Entry>)> = futures_util::stream::iter(customers.iter().enumerate())
                .map(|(i, c)| async move { (i, self.customer(c).await) })
                .buffer_unordered(concurrency)
                .collect()
                .await;
            stop.cancel();
            done.sort_by_key(|(i, _)| *i);
            done.into_iter().flat_map(|(_, e)| e).collect()
        };
        let (entries, ()) = tokio::join!(work, self.progress.show(stop.clone()));
        entries
    }

    async fn customer(&self, customer: &str) -> Vec<Entry> {
        let listed = match self.gameball.coupons(customer).await {
            Ok(listed) => listed,
            Err(reason) => {
                let e = Entry::new(customer, None, Outcome::Failed).because(reason);
                self.progress.record(&e);
                self.progress.customer_done();
                return vec![e];
            }
        };
        let mut out = Vec::with_capacity(listed.len());
        for item in listed {
            let code = item.code();
            let mut entry = match &item.coupon {
                Err(reason) => Entry::new(customer, code, Outcome::Failed).because(reason.clone()),
                Ok(c) => {
                    let plan = mapping::plan(c, customer, self.decimals, self.now);
                    match (&plan, self.mode) {
                        (_, Mode::Verify) => verify::verify(&self.target, customer, code, &plan, self.now).await,
                        (Plan::Skip(skip), _) => {
                            Entry::new(customer, code, Outcome::Skipped).because(skip.reason.clone())
                        }
                        (Plan::Create(def), _) => apply::import(&self.target, def).await,
                    }
                }
            };
            entry.gameball = item.raw;
            self.progress.record(&entry);
            out.push(entry);
        }
        self.progress.customer_done();
        out
    }
}

/// The report, the closing line and the exit status.
fn finish(job: &Job<'_>, tenant: &str, entries: &[Entry], report: Option<&Path>) -> ExitCode {
    let counts = job.progress.tally();
    let mut status = ExitCode::SUCCESS;
    if let Some(path) = report {
        let doc = Report {
            mode: job.mode.name(),
            tenant,
            counts,
            coupons: entries,
        };
        if let Err(e) = report::write(path, &doc) {
            eprintln!(
                "couponbridge import-coupons: cannot write the report to {}: {e}",
                path.display()
            );
            status = ExitCode::FAILURE;
        }
    }
    let troubles = match job.mode {
        Mode::Verify => (counts.different > 0 || counts.failed > 0).then(|| {
            format!(
                "{} coupon(s) differ and {} could not be compared",
                counts.different, counts.failed
            )
        }),
        _ => (counts.conflicts > 0 || counts.failed > 0).then(|| {
            format!(
                "{} conflict(s) and {} failure(s); a conflict is left as it is, a failure is retried by running again",
                counts.conflicts, counts.failed
            )
        }),
    };
    if let Some(troubles) = troubles {
        eprintln!("couponbridge import-coupons: {troubles} (each is listed above)");
        status = ExitCode::FAILURE;
    }
    if job.mode == Mode::DryRun {
        println!("dry run: nothing was written to Voucherify; the counts are what an import would do");
    }
    println!("{}", job.progress.line());
    status
}
