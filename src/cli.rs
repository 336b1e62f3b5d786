//! The command line: `serve`, `demo`, `simulate`, `check-config`, `replay`,
//! `shadow-report`, `import-coupons`, `rollout status`, `routes`, and
//! `completions` and `man`, which write shell completions and man pages
//! generated from this very definition.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::clock::Clock;
use crate::config::{self, Config, LogConfig, LogFormat};
use crate::net::client::{self, ClientOptions};
use crate::sim::faults::Faults;
use crate::sim::model::ApplicationMode;
use crate::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN, SimBuilder};
use crate::{demo, reload, replay, serve, telemetry};

/// `couponbridge --version`: the package version and the commit it was
/// built from (build.rs; `unknown` without git or `COUPONBRIDGE_COMMIT`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("COUPONBRIDGE_COMMIT"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "couponbridge",
    version = VERSION,
    about = "Gameball's coupon API in front, Voucherify behind"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the adapter from a configuration file and the environment.
    Serve {
        /// TOML file (default config/couponbridge.toml); COUPONBRIDGE_* variables override it.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Run the adapter, a simulated Voucherify and an in-memory store in one process.
    Demo {
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, default_value = "127.0.0.1:9901")]
        admin: SocketAddr,
    },
    /// Run the Voucherify simulator.
    Simulate {
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: SocketAddr,
        /// A JSON array of vouchers (the shape GET /v1/vouchers/{code} returns).
        #[arg(long)]
        vouchers: Option<PathBuf>,
        #[arg(long, default_value = DEFAULT_APP_ID)]
        app_id: String,
        #[arg(long, default_value = DEFAULT_APP_TOKEN)]
        app_token: String,
        /// Stacking mode of the simulated project.
        #[arg(long, value_enum, default_value_t = Mode::All)]
        mode: Mode,
        /// Time moves only through POST /_sim/clock.
        #[arg(long)]
        manual_clock: bool,
        /// Added to every /v1 answer.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Share (0-1) of /v1 requests answered 503.
        #[arg(long, default_value_t = 0.0)]
        error_rate: f64,
        /// Share (0-1) of /v1 requests answered 429.
        #[arg(long, default_value_t = 0.0)]
        rate_limit_rate: f64,
        /// Share (0-1) of /v1 requests whose connection is dropped.
        #[arg(long, default_value_t = 0.0)]
        drop_rate: f64,
        /// Worker threads (default: one per core).
        #[arg(long)]
        threads: Option<usize>,
        /// Serve HTTPS with this certificate (PEM) and --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Validate the configuration: every error at once, each with its key and where it was set.
    CheckConfig {
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print the effective configuration: every key, defaults included, with its origin.
        #[arg(long)]
        effective: bool,
        /// `text` (one line per error or key) or `json` (an array of objects).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Replay recorded Gameball traffic against an adapter and compare answers.
    Replay(replay::ReplayArgs),
    /// Summarise what shadow mode wrote: counts per route, mismatches and errors grouped.
    ShadowReport(crate::report::shadow::ShadowReportArgs),
    /// Where each merchant's rollout is, from a running instance's admin listener.
    Rollout {
        #[command(subcommand)]
        command: RolloutCommand,
    },
    /// Print the route table (method, path, operation, dialect) as Markdown.
    Routes,
    /// Copy customers' coupons from Gameball to Voucherify (or, with --verify, compare them).
    ImportCoupons(crate::import::ImportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages: couponbridge(1) to stdout, or with --out one page per subcommand too.
    Man {
        /// A folder to write couponbridge.1 and couponbridge-SUBCOMMAND.1 into.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum RolloutCommand {
    /// Print GET /rollout as a table: each tenant's operations, their shares, guards and last trip.
    Status {
        /// The admin listener's base URL.
        #[arg(long, default_value = "http://127.0.0.1:9901")]
        admin: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mode {
    All,
    Partial,
}

/// One worker thread is tokio's current-thread scheduler: the same one
/// thread without the work-stealing scheduler's bookkeeping, 10–40 % less
/// CPU per validation and lock details, release about the same
/// (benches/results/scheduler/).
fn runtime(threads: Option<usize>) -> tokio::runtime::Runtime {
    let mut b = match threads {
        Some(n) if n <= 1 => tokio::runtime::Builder::new_current_thread(),
        Some(n) => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
        None => tokio::runtime::Builder::new_multi_thread(),
    };
    b.enable_all().build().expect("a tokio runtime starts")
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::CheckConfig {
            config,
            effective,
            format,
        } => check_config(config.as_deref(), effective, format),
        Command::Serve { config } => match Config::load(config.as_deref()) {
            Err(errors) => {
                eprint!("{errors}");
                ExitCode::from(2)
            }
            Ok(cfg) => runtime(cfg.server.worker_threads).block_on(async {
                // Inside the runtime: the span exporter's batches run on it.
                let http = cfg.telemetry.as_ref().and_then(|_| {
                    let mut extra_ca = Vec::new();
                    for path in &cfg.upstream_tls.extra_ca {
                        extra_ca.extend(crate::net::tls::load_certs(path).ok()?);
                    }
                    client::build(&ClientOptions {
                        roots: cfg.upstream_tls.roots,
                        extra_ca,
                        ..ClientOptions::default()
                    })
                    .map_err(|e| eprintln!("couponbridge: traces are off: {e}"))
                    .ok()
                });
                let telemetry = telemetry::init(&cfg.log, cfg.telemetry.as_ref(), http);
                let code = serve_until_signal(config, cfg).await;
                telemetry.finish().await;
                code
            }),
        },
        Command::Demo { listen, admin } => {
            telemetry::init(
                &LogConfig {
                    format: LogFormat::Pretty,
                    level: "info".into(),
                },
                None,
                None,
            );
            runtime(None).block_on(run_demo(listen, admin))
        }
        Command::Simulate {
            listen,
            vouchers,
            app_id,
            app_token,
            mode,
            manual_clock,
            latency_ms,
            error_rate,
            rate_limit_rate,
            drop_rate,
            threads,
            tls_cert,
            tls_key,
        } => {
            telemetry::init(
                &LogConfig {
                    format: LogFormat::Pretty,
                    level: "warn".into(),
                },
                None,
                None,
            );
            let mut builder = SimBuilder::new().project(&app_id, &app_token).mode(match mode {
                Mode::All => ApplicationMode::All,
                Mode::Partial => ApplicationMode::Partial,
            });
            if let Some(path) = vouchers {
                match std::fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).map_err(|e| e.to_string()))
                {
                    Ok(doc) => builder = builder.seed(doc),
                    Err(e) => {
                        eprintln!("cannot read {}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                }
            }
            let faults = Faults {
                latency_ms,
                error_rate,
                rate_limit_rate,
                drop_rate,
                ..Faults::default()
            };
            builder = builder.faults(faults).clock(if manual_clock {
                Clock::manual_from_now()
            } else {
                Clock::System
            });
            if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
                match crate::net::tls::server_config(&cert, &key) {
                    Ok(tls) => builder = builder.tls(tls),
                    Err(e) => {
                        eprintln!("simulator TLS: {e}");
                        return ExitCode::from(2);
                    }
                }
            }
            runtime(threads).block_on(async move {
                let listen = listen.to_string();
                match builder.start(&listen).await {
                    Ok(sim) => {
                        println!("Voucherify simulator on {} (app id {app_id})", sim.base_url());
                        serve::signal().await;
                        sim.stop().await;
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("simulator: {e}");
                        ExitCode::from(2)
                    }
                }
            })
        }
        Command::Replay(args) => runtime(None).block_on(replay::run(args)),
        Command::ShadowReport(args) => crate::report::shadow::run(args),
        Command::Rollout {
            command: RolloutCommand::Status { admin },
        } => rollout_status(&admin),
        Command::Routes => {
            print!("{}", crate::gameball::routes::markdown_table());
            ExitCode::SUCCESS
        }
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "couponbridge", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Man { out } => man(out.as_deref()).map_or_else(
            |e| {
                eprintln!("man: {e}");
                ExitCode::from(2)
            },
            |()| ExitCode::SUCCESS,
        ),
        Command::ImportCoupons(args) => runtime(None).block_on(crate::import::run(args)),
    }
}

/// `rollout status`: the admin listener's `GET /rollout` as a table; exit
/// 1 when it cannot be read.
fn rollout_status(admin: &str) -> ExitCode {
    runtime(Some(1)).block_on(async {
        match crate::rollout::status::fetch(admin).await {
            Ok(status) => {
                print!("{}", crate::rollout::status::table(&status));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rollout status: {e}");
                ExitCode::from(1)
            }
        }
    })
}

/// The man pages, from the clap definition: the top page to stdout, or
/// every page (`couponbridge.1`, `couponbridge-serve.1`, …) into `out`.
fn man(out: Option<&Path>) -> std::io::Result<()> {
    let cmd = Cli::command();
    match out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            use std::io::Write;
            std::io::stdout().write_all(&page)
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(cmd, dir)
        }
    }
}

/// The errors (or, with `--effective`, the effective configuration) on
/// stdout; with `--effective` the errors go to stderr, in the same format.
/// A one-line verdict on stderr; exit 2 when there is an error.
fn check_config(path: Option<&std::path::Path>, effective: bool, format: Format) -> ExitCode {
    let checked = config::check(path);
    let no_errors = config::ConfigErrors(Vec::new());
    let errors = checked.result.as_ref().err().unwrap_or(&no_errors);
    let errors_text = match format {
        Format::Text => errors.to_string(),
        Format::Json => format!("{:#}\n", errors.to_json()),
    };
    if effective {
        match format {
            Format::Text => print!("{}", config::effective::text(&checked.effective)),
            Format::Json => println!("{:#}", config::effective::json(&checked.effective)),
        }
        eprint!("{errors_text}");
    } else {
        print!("{errors_text}");
    }
    match &checked.result {
        Ok(cfg) => {
            eprintln!(
                "configuration is valid: {} tenant(s), listening on {}",
                cfg.tenants.len(),
                cfg.server.listen
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{} configuration error(s)", errors.0.len());
            ExitCode::from(2)
        }
    }
}

async fn serve_until_signal(path: Option<PathBuf>, cfg: Config) -> ExitCode {
    match serve::start(&cfg, Clock::System).await {
        Ok(running) => {
            tracing::info!(listen = %running.addr, admin = %running.admin_addr.map_or_else(|| "off".to_owned(), |a| a.to_string()), tenants = cfg.tenants.len(), fingerprint = %cfg.fingerprint, "couponbridge serving");
            let (mut triggers, _watcher) = reload::triggers(path.as_deref(), cfg.server.watch_config);
            let stop = serve::signal();
            tokio::pin!(stop);
            loop {
                tokio::select! {
                    _ = &mut stop => break,
                    Some(why) = triggers.recv() => {
                        reload::settle(&mut triggers).await;
                        let (reloads, path) = (running.reloads(), path.clone());
                        if let Err(e) = tokio::task::spawn_blocking(move || reload::reload(&reloads, path.as_deref(), why)).await {
                            tracing::error!(error = %e, "reload failed unexpectedly: the running configuration stays as it was");
                        }
                    }
                }
            }
            tracing::info!("shutting down: draining in-flight requests");
            running.shutdown().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("couponbridge cannot start: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run_demo(listen: SocketAddr, admin: SocketAddr) -> ExitCode {
    let clock = Clock::System;
    let sim = match demo::simulator(clock.clone()).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo simulator: {e}");
            return ExitCode::from(1);
        }
    };
    let cfg = demo::config(listen, Some(admin), &sim.base_url());
    match serve::start(&cfg, clock).await {
        Ok(running) => {
            println!("{}", demo::instructions(running.addr, running.admin_addr));
            serve::signal().await;
            running.shutdown().await;
            sim.stop().await;
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("couponbridge demo cannot start: {e}");
            ExitCode::from(1)
        }
    }
}
