//! Open-loop HTTP/1.1 load at a fixed rate, with latency corrected for
//! coordinated omission, for `benches/compare.sh`.
//!
//!     cargo build --release --features bench-tools --bin openloop
//!     target/release/openloop --rate 5000 --duration 6s --connections 32 \
//!         -X POST -H 'apikey: k' -d '{"…"}' http://127.0.0.1:8080/path
//!
//! Prints one JSON object: requests/s achieved, p50/p99/p99.9/max in
//! milliseconds, answers counted ok (2xx and 404) or errors.
//!
//! Why not oha (which the issue suggested): it takes 25+ minutes to compile
//! on two shared cores and no Debian package provides it or any other open-
//! loop generator (wrk, hey and siege wait for each answer: closed loop).
//! This one is built from the crate's own dependencies in seconds.
//!
//! The schedule, as wrk2's: request i of connection c is due at
//! start + (i · connections + c) / rate. A connection sends each request when
//! it is due, or as soon as its previous answer arrives if that is later. Its
//! latency counts from when it was due when the server made it late (the
//! previous answer arrived after the due time: the wait a real client,
//! arriving on time, would have spent queued), and from the actual send
//! otherwise, so the generator's own timer granularity (tokio's is 1 ms) is
//! not charged to the server.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use tokio::net::TcpStream;

#[derive(Parser)]
struct Args {
    /// Requests per second, over all connections.
    #[arg(long)]
    rate: f64,
    /// How long to send (for example 6s, 500ms).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "6s")]
    duration: Duration,
    /// Keep-alive connections the rate is spread over.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    #[arg(short = 'X', long, default_value = "GET")]
    method: String,
    /// A request header, "name: value"; repeatable.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// The request body (sent with content-type application/json).
    #[arg(short = 'd', long)]
    data: Option<String>,
    /// http://host:port/path
    url: String,
}

/// What one connection saw.
struct Tally {
    latencies: Histogram<u64>,
    ok: u64,
    errors: u64,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let rest = args.url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut headers = Vec::new();
    for h in &args.headers {
        let (name, value) = h.split_once(':').ok_or("a header is name: value")?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let template = Template {
        method: args.method.parse()?,
        authority: authority.to_string(),
        path: path.to_string(),
        headers,
        body: args.data.map(Bytes::from),
    };

    // One thread: the load stays on the core it is pinned to.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (tallies, elapsed) = runtime.block_on(async {
        let start = Instant::now() + Duration::from_millis(50);
        let tasks: Vec<_> = (0..args.connections)
            .map(|c| {
                let template = template.clone();
                let interval = Duration::from_secs_f64(args.connections as f64 / args.rate);
                let first = start + Duration::from_secs_f64(c as f64 / args.rate);
                tokio::spawn(connection(template, first, interval, start + args.duration))
            })
            .collect();
        let mut tallies = Vec::new();
        for t in tasks {
            tallies.push(t.await.expect("a connection's task panicked"));
        }
        (tallies, start.elapsed())
    });

    let mut all = histogram();
    let (mut ok, mut errors) = (0, 0);
    for t in tallies {
        all.add(&t.latencies)?;
        ok += t.ok;
        errors += t.errors;
    }
    let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "rate": args.rate,
            "rps": ((ok + errors) as f64 / elapsed.as_secs_f64() * 10.0).round() / 10.0,
            "p50_ms": ms(0.5),
            "p99_ms": ms(0.99),
            "p999_ms": ms(0.999),
            "max_ms": all.max() as f64 / 1000.0,
            "ok": ok,
            "errors": errors,
        })
    );
    Ok(())
}

#[derive(Clone)]
struct Template {
    method: hyper::Method,
    authority: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<Bytes>,
}

impl Template {
    fn request(&self) -> Request<Full<Bytes>> {
        let mut r = Request::builder()
            .method(self.method.clone())
            .uri(&self.path)
            .header("host", &self.authority);
        for (name, value) in &self.headers {
            r = r.header(name, value);
        }
        if self.body.is_some() {
            r = r.header("content-type", "application/json");
        }
        r.body(Full::new(self.body.clone().unwrap_or_default()))
            .expect("the request's parts were checked at start")
    }
}

/// How long one request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Latencies in microseconds, up to a minute.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static bounds")
}

async fn connection(template: Template, first: Instant, interval: Duration, end: Instant) -> Tally {
    let mut tally = Tally {
        latencies: histogram(),
        ok: 0,
        errors: 0,
    };
    let mut sender: Option<Sender> = None;
    let mut due = first;
    let mut free_at = Instant::now();
    while due < end {
        tokio::time::sleep_until(due.into()).await;
        // Late because the server kept us: count from the due time.
        let from = if free_at > due { due } else { Instant::now() };
        // A server may end a keep-alive connection after an answer (nginx
        // after keepalive_requests): a client opens a new one, it is not
        // an error.
        if let Some(s) = sender.as_mut()
            && s.ready().await.is_err()
        {
            sender = None;
        }
        if sender.is_none() {
            sender = connect(&template.authority).await;
        }
        let answered = match sender.as_mut() {
            // A server that stalls ends the request as an error (and its
            // connection), not the run.
            Some(s) => tokio::time::timeout(REQUEST_TIMEOUT, exchange(s, template.request()))
                .await
                .ok()
                .flatten(),
            None => None,
        };
        free_at = Instant::now();
        match answered {
            Some(status) if status.is_success() || status == hyper::StatusCode::NOT_FOUND => tally.ok += 1,
            Some(_) => tally.errors += 1,
            None => {
                tally.errors += 1;
                sender = None;
            }
        }
        tally
            .latencies
            .saturating_record(free_at.duration_since(from).as_micros() as u64);
        due += interval;
    }
    tally
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

/// One request and its whole answer; None when the connection failed.
async fn exchange(sender: &mut Sender, request: Request<Full<Bytes>>) -> Option<hyper::StatusCode> {
    let response = sender.send_request(request).await.ok()?;
    let status = response.status();
    response.into_body().collect().await.ok()?;
    Some(status)
}

async fn connect(authority: &str) -> Option<Sender> {
    let stream = TcpStream::connect(authority).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}
