//! `couponbridge replay`: send recorded Gameball requests, in order, to an
//! adapter and compare each answer with the recorded one.
//!
//! Online (`--target URL`): against a running couponbridge (or Gameball
//! itself). Offline (`--offline`): an adapter is started in-process with a
//! Voucherify that answers only from the recording's Voucherify calls, so a
//! recording becomes a deterministic regression test of the adapter.
//!
//! For pipelines: every request has a deadline (`--timeout`, 10 s), so a
//! target that accepts and never answers fails the run instead of hanging
//! it; a target that answers none of the first requests ends the run (exit
//! 2, one line saying why) rather than failing every exchange in turn. A
//! recording whose credentials were redacted, replayed online with nothing
//! to replace them, is refused with one message (exit 2) instead of a
//! report of 401s. An empty or unreadable recording exits 2. Credentials
//! can come from the environment (`COUPONBRIDGE_REPLAY_APIKEY`,
//! `COUPONBRIDGE_REPLAY_SECRETKEY`), out of the process list. On a
//! terminal, a progress bar on stderr; elsewhere nothing but the report.

mod credentials;
pub mod load;
mod render;
pub mod stub;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::BodyExt;
use serde::Serialize;
use serde_json::Value;

use crate::clock::Clock;
use crate::compare::{self, Change, Comparer, Mismatch, RulesFile};
use crate::config::{Config, StoreConfig};
use crate::net::client::{self, ClientOptions, HttpClient};
use crate::report::{Format, Progress};
use crate::serve;
use credentials::credentials_message;
pub use credentials::{Auth, missing_credentials};
use load::{Exchange, Loaded};

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// Recordings: couponbridge's JSON lines or HAR 1.2 files, in order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The adapter to replay against, e.g. http://127.0.0.1:8080.
    #[arg(long, required_unless_present = "offline", conflicts_with = "offline")]
    pub target: Option<String>,
    /// Start an adapter in-process whose Voucherify answers from the recording.
    #[arg(long)]
    pub offline: bool,
    /// Offline: the configuration whose tenants (currency, messages) to use.
    #[arg(long, requires = "offline")]
    pub config: Option<PathBuf>,
    /// Offline with --config: the tenant to replay as (default: the first).
    #[arg(long, requires = "config")]
    pub tenant: Option<String>,
    /// Sent instead of the recorded (usually redacted) apikey; COUPONBRIDGE_REPLAY_APIKEY does the same.
    #[arg(long, env = "COUPONBRIDGE_REPLAY_APIKEY", hide_env_values = true)]
    pub apikey: Option<String>,
    /// Sent instead of the recorded secretkey; better as COUPONBRIDGE_REPLAY_SECRETKEY, out of the process list.
    #[arg(long, env = "COUPONBRIDGE_REPLAY_SECRETKEY", hide_env_values = true)]
    pub secretkey: Option<String>,
    /// How long one request may take, its whole answer included (e.g. 10s, 500ms).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// More comparison rules (JSON: {"rules": [{"path", "compare", "tolerance", "match"}]}).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Fields the live answer has and the recording lacks fail too.
    #[arg(long)]
    pub strict: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExchangeResult {
    pub index: usize,
    pub method: String,
    pub path: String,
    /// The operation the request routes to (`validate`, `lock_details`, ...),
    /// or `other` for calls couponbridge passes through.
    pub route: String,
    pub passed: bool,
    /// Missing fields and differing values: these always fail.
    pub failures: Vec<Mismatch>,
    /// Fields only the live answer has: extra fields break no JSON client,
    /// so they fail only with `--strict`.
    pub additions: Vec<Mismatch>,
}

impl ExchangeResult {
    fn new(ex: &Exchange, route: &str, mismatches: Vec<Mismatch>) -> Self {
        let (additions, failures) = mismatches.into_iter().partition(|m| m.change == Change::Added);
        ExchangeResult {
            index: ex.index,
            method: ex.method.clone(),
            path: ex.path.clone(),
            route: route.to_owned(),
            passed: false,
            failures,
            additions,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    /// Added fields, over all exchanges.
    pub additions: usize,
    /// Recording entries that are not Gameball calls couponbridge serves.
    pub skipped: usize,
    /// Whether additions failed their exchange (`--strict`).
    pub strict: bool,
    /// Exchanges the target gave no answer to (a timeout, a refused or
    /// broken connection); each is also a failure.
    pub unanswered: usize,
    /// Why the run ended before the recording did (the target answered
    /// none of the first requests), when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    pub results: Vec<ExchangeResult>,
}

impl Report {
    /// Passes or fails each exchange and counts: an exchange fails on a
    /// failure, or on an addition when `strict`.
    pub fn judged(mut self, strict: bool) -> Report {
        self.strict = strict;
        (self.passed, self.failed, self.additions) = (0, 0, 0);
        for r in &mut self.results {
            r.passed = r.failures.is_empty() && (r.additions.is_empty() || !strict);
            if r.passed {
                self.passed += 1;
            } else {
                self.failed += 1;
            }
            self.additions += r.additions.len();
        }
        self
    }
}

/// Hop-by-hop and per-request headers are not replayed.
const NOT_REPLAYED: [&str; 7] = [
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
    "keep-alive",
    "x-request-id",
    "accept-encoding",
];

struct Sent {
    status: u16,
    body: Bytes,
}

/// The default of `--timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// With no answer to any of the first this many requests, the target is
/// taken for unreachable and the run ends.
pub const GIVE_UP_AFTER: usize = 3;

/// How a replay is paced and shown.
pub struct Pace {
    /// Each request's deadline, its whole answer included.
    pub timeout: Duration,
    pub progress: Progress,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            timeout: DEFAULT_TIMEOUT,
            progress: Progress::hidden(),
        }
    }
}

/// An error with its causes (hyper's "client error (Connect)" alone says
/// little; its source says "Connection refused").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Sends one exchange within `timeout`: `Err` when no answer came.
async fn send_within(
    http: &HttpClient,
    base: &str,
    ex: &Exchange,
    comparer: &Comparer,
    auth: &Auth,
    timeout: Duration,
) -> Result<Sent, String> {
    match tokio::time::timeout(timeout, send(http, base, ex, comparer, auth)).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer within {} (--timeout)",
            humantime::format_duration(timeout)
        )),
    }
}

/// An SDK-era body's `hash` is redacted in recordings (it is a standing
/// credential); given the secret key, replay signs the body again as the
/// SDK does, SHA-1 of `"{playerUniqueId}:::{secretKey}"`, as it replaces
/// the `secretkey` header.
fn sign_sdk_body(body: String, secret: Option<&str>) -> String {
    use sha1::Digest;
    let Some(secret) = secret else { return body };
    let Ok(mut v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return body;
    };
    let player = match v.get("playerUniqueId") {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => return body,
    };
    if !v.get("hash").is_some_and(serde_json::Value::is_string) {
        return body;
    }
    let digest = sha1::Sha1::digest(format!("{player}:::{secret}").as_bytes());
    v["hash"] = digest.iter().map(|b| format!("{b:02x}")).collect::<String>().into();
    v.to_string()
}

async fn send(http: &HttpClient, base: &str, ex: &Exchange, comparer: &Comparer, auth: &Auth) -> Result<Sent, String> {
    let path = comparer.carry(&ex.path);
    let body = sign_sdk_body(comparer.carry(&ex.body), auth.secretkey.as_deref());
    let method = Method::from_bytes(ex.method.as_bytes()).map_err(|e| e.to_string())?;
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{}{path}", base.trim_end_matches('/')));
    for (name, value) in &ex.headers {
        let lower = name.to_ascii_lowercase();
        if NOT_REPLAYED.contains(&lower.as_str()) || name.starts_with(':') {
            continue;
        }
        let value = match lower.as_str() {
            "apikey" => auth.apikey.clone().unwrap_or_else(|| value.clone()),
            "secretkey" => auth.secretkey.clone().unwrap_or_else(|| value.clone()),
            _ => value.clone(),
        };
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::from_str(&value)) {
            req = req.header(n, v);
        }
    }
    for (name, given) in [("apikey", &auth.apikey), ("secretkey", &auth.secretkey)] {
        let recorded = ex.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if let (false, Some(v)) = (recorded, given) {
            req = req.header(name, v.as_str());
        }
    }
    let req = req.body(crate::net::full(body)).map_err(|e| e.to_string())?;
    let res = http
        .request(req)
        .await
        .map_err(|e| format!("request failed: {}", chain(&e)))?;
    let status = res.status().as_u16();
    let body = res
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("the answer broke off: {}", chain(&e)))?
        .to_bytes();
    Ok(Sent { status, body })
}

fn compare_answer(comparer: &mut Comparer, ex: &Exchange, sent: &Sent) -> Vec<Mismatch> {
    compare::compare_answers(
        comparer,
        &ex.label(),
        (ex.answer.status, &compare::body_value(ex.answer.body.as_bytes())),
        (sent.status, &compare::body_value(&sent.body)),
    )
}

/// Replays `exchanges` against `base`, in order, with the default timeout
/// and no progress shown.
pub async fn replay_against(
    loaded: &Loaded,
    base: &str,
    auth: &Auth,
    rules: &RulesFile,
    stub: Option<&stub::Stub>,
) -> Report {
    replay_with(loaded, base, auth, rules, stub, &Pace::default()).await
}

/// Replays `exchanges` against `base`, in order, each request within
/// `pace.timeout`.
pub async fn replay_with(
    loaded: &Loaded,
    base: &str,
    auth: &Auth,
    rules: &RulesFile,
    stub: Option<&stub::Stub>,
    pace: &Pace,
) -> Report {
    let http = match client::build(&ClientOptions::default()) {
        Ok(h) => h,
        Err(e) => {
            return Report {
                results: vec![ExchangeResult {
                    index: 0,
                    method: String::new(),
                    path: String::new(),
                    route: String::new(),
                    passed: false,
                    failures: vec![Mismatch::differs(
                        "client",
                        Value::from("an HTTP client"),
                        Value::from(e.to_string()),
                        None,
                    )],
                    additions: Vec::new(),
                }],
                ..Report::default()
            }
            .judged(false);
        }
    };
    let mut comparer = Comparer::new(&rules.rules);
    let mut report = Report {
        skipped: loaded.skipped,
        ..Report::default()
    };
    let mut answered = 0;
    for ex in &loaded.exchanges {
        pace.progress.advance(report.results.len(), report.unanswered);
        let method = Method::from_bytes(ex.method.as_bytes()).unwrap_or_default();
        let routed = crate::gameball::routes::route(&method, ex.path.split('?').next().unwrap_or(""));
        if stub.is_some() && routed.is_none() {
            // Offline there is no Gameball to pass other calls to.
            report.skipped += 1;
            continue;
        }
        if answered == 0 && report.unanswered >= GIVE_UP_AFTER {
            report.stopped = Some(format!(
                "{base} answered none of the first {} requests; {} not sent",
                report.unanswered,
                loaded.exchanges.len() - report.results.len()
            ));
            break;
        }
        if let Some(s) = stub {
            s.expect(&ex.legs);
        }
        let mut mismatches = match send_within(&http, base, ex, &comparer, auth, pace.timeout).await {
            Ok(sent) => {
                answered += 1;
                compare_answer(&mut comparer, ex, &sent)
            }
            Err(e) => {
                report.unanswered += 1;
                vec![Mismatch::differs(
                    "request",
                    Value::from("an answer"),
                    Value::from(e),
                    None,
                )]
            }
        };
        if let Some(s) = stub {
            for call in s.unrecorded() {
                mismatches.push(Mismatch::differs(
                    "voucherify",
                    Value::from("only calls in the recording"),
                    Value::from(call),
                    Some("the adapter made a Voucherify call the recording does not contain".into()),
                ));
            }
        }
        let route = routed.map_or("other", |m| m.op().name());
        report.results.push(ExchangeResult::new(ex, route, mismatches));
    }
    pace.progress.finish();
    // Strictness is the caller's to apply: `run` judges again with --strict.
    report.judged(false)
}

/// Offline: an adapter in-process (memory store, no admin, no recording)
/// whose tenants' Voucherify is the stub.
pub async fn replay_offline(
    loaded: &Loaded,
    config: Option<Config>,
    tenant: Option<&str>,
    rules: &RulesFile,
) -> Result<Report, String> {
    replay_offline_with(loaded, config, tenant, rules, &Pace::default()).await
}

/// [`replay_offline`], paced and shown as `pace` says.
pub async fn replay_offline_with(
    loaded: &Loaded,
    config: Option<Config>,
    tenant: Option<&str>,
    rules: &RulesFile,
    pace: &Pace,
) -> Result<Report, String> {
    let stub = stub::Stub::start().await.map_err(|e| e.to_string())?;
    let stub_url: http::Uri = stub.url().parse().map_err(|e: http::uri::InvalidUri| e.to_string())?;
    let mut cfg = match config {
        Some(c) => c,
        None => Config::from_toml(&format!(
            r#"
            [server]
            listen = "127.0.0.1:0"
            [store]
            url = "memory://"
            [tenants.replay]
            api_key = "replay-api-key"
            secret_key = "replay-secret-key"
            [tenants.replay.voucherify]
            base_url = "{stub_url}"
            app_id = "replay"
            app_token = "replay"
            "#
        ))
        .map_err(|e| e.to_string())?,
    };
    cfg.server.listen = "127.0.0.1:0".parse().expect("a valid address");
    cfg.server.tls = None;
    cfg.admin = None;
    cfg.record = None;
    cfg.passthrough = None;
    cfg.store = StoreConfig::Memory;
    for t in &mut cfg.tenants {
        t.voucherify.base_url = stub_url.clone();
    }
    let chosen = match tenant {
        Some(name) => cfg
            .tenants
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| format!("no tenant named {name} in the configuration"))?,
        None => cfg.tenants.first().ok_or("the configuration has no tenant")?,
    };
    let auth = Auth {
        apikey: Some(chosen.api_key.clone()),
        secretkey: Some(chosen.secret_key.expose().to_owned()),
    };
    let running = serve::start(&cfg, Clock::System).await.map_err(|e| e.to_string())?;
    let report = replay_with(loaded, &running.base_url(), &auth, rules, Some(&stub), pace).await;
    running.shutdown().await;
    Ok(report)
}

pub async fn run(args: ReplayArgs) -> ExitCode {
    let fail = |msg: String| {
        eprintln!("replay: {msg}");
        ExitCode::from(2)
    };
    let loaded = match load::load(&args.files) {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    if loaded.exchanges.is_empty() {
        return fail(format!(
            "nothing to replay: no Gameball API call in the recording ({} entr{} skipped)",
            loaded.skipped,
            if loaded.skipped == 1 { "y" } else { "ies" }
        ));
    }
    let rules = match &args.rules {
        None => RulesFile::default(),
        Some(p) => match std::fs::read(p)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<RulesFile>(&b).map_err(|e| e.to_string()))
        {
            Ok(r) => r,
            Err(e) => return fail(format!("{}: {e}", p.display())),
        },
    };
    let pace = Pace {
        timeout: args.timeout,
        progress: Progress::on_terminal(loaded.exchanges.len() as u64, "replay"),
    };
    let report = if args.offline {
        let config = match &args.config {
            None => None,
            Some(p) => match Config::load(Some(p)) {
                Ok(c) => Some(c),
                Err(e) => return fail(e.to_string()),
            },
        };
        match replay_offline_with(&loaded, config, args.tenant.as_deref(), &rules, &pace).await {
            Ok(r) => r,
            Err(e) => return fail(e),
        }
    } else {
        let auth = Auth {
            apikey: args.apikey.clone(),
            secretkey: args.secretkey.clone(),
        };
        let missing = missing_credentials(&loaded, &auth);
        if !missing.is_empty() {
            return fail(credentials_message(&missing));
        }
        let target = args.target.clone().unwrap_or_default();
        replay_with(&loaded, &target, &auth, &rules, None, &pace).await
    };
    let report = report.judged(args.strict);
    let text = match args.format {
        Format::Text => report.text(),
        Format::Json => serde_json::to_string_pretty(&report).unwrap_or_default() + "\n",
        Format::Html => report.html(),
    };
    if let Err(e) = crate::report::write_output(args.output.as_deref(), &text) {
        return fail(e);
    }
    exit_code(&report)
}

/// 0 when every exchange passed; 1 when one failed; 2 when nothing was
/// compared: nothing was replayed, or the target answered nothing.
fn exit_code(report: &Report) -> ExitCode {
    let first_error = || {
        report
            .results
            .iter()
            .flat_map(|r| &r.failures)
            .find(|m| m.path == "request")
            .and_then(|m| m.got.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    if report.results.is_empty() {
        eprintln!("replay: nothing was replayed ({} entries skipped)", report.skipped);
        ExitCode::from(2)
    } else if report.unanswered == report.results.len() {
        let why = report
            .stopped
            .clone()
            .unwrap_or_else(|| format!("the target answered none of the {} requests", report.unanswered));
        eprintln!("replay: {why}: {}", first_error());
        ExitCode::from(2)
    } else if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
