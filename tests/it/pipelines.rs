//! The command line in pipelines, through the real binary: `replay` ends
//! within its timeout against a target that never answers, refuses a
//! redacted recording it has no credentials for with one message, takes
//! credentials from the environment, exits 2 for an empty or unreadable
//! recording and draws progress only on a terminal; `--version` names the
//! commit; the man pages and completions come from the CLI definition.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::env::{API_KEY, Env, SECRET_KEY, StoreKind, V};

const BIN: &str = env!("CARGO_BIN_EXE_couponbridge");

/// What a finished run of the binary left.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the binary (no inherited replay credentials), waiting `limit` at
/// most: a run still going then is killed and the test fails.
fn run(args: &[&str], env: &[(&str, &str)], limit: Duration) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let started = Instant::now();
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_remove("COUPONBRIDGE_REPLAY_APIKEY")
        .env_remove("COUPONBRIDGE_REPLAY_SECRETKEY")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "couponbridge {args:?} still ran after {limit:?}; stderr so far:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code,
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
        took: started.elapsed(),
    }
}

/// A recording (couponbridge's JSON lines) of `n` copies of one validation,
/// its credentials as a recording keeps them (redacted), answered `answer`.
fn recording(dir: &Path, n: usize, body: &Value, answer: &Value) -> PathBuf {
    let path = dir.join("recording.jsonl");
    let lines: String = (0..n)
        .map(|i| {
            json!({
                "_id": format!("ex_{i}"), "_kind": "gameball",
                "request": {
                    "method": "POST", "url": format!("http://shop.example{V}/coupons/validate"),
                    "headers": [
                        {"name": "apikey", "value": "<redacted>"},
                        {"name": "secretkey", "value": "<redacted>"},
                        {"name": "content-type", "value": "application/json"}
                    ],
                    "postData": {"mimeType": "application/json", "text": body.to_string()}
                },
                "response": {"status": 200, "content": {"mimeType": "application/json", "text": answer.to_string()}}
            })
            .to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&path, lines).unwrap();
    path
}

/// A listener that accepts every connection and never answers.
fn silent_target() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    format!("http://{addr}")
}

fn no_terminal_codes(text: &str) {
    assert!(
        !text.contains('\x1b') && !text.contains('\r'),
        "ANSI codes or carriage returns off a terminal: {text:?}"
    );
}

#[test]
fn replay_against_a_target_that_never_answers_ends_within_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let file = recording(dir.path(), 5, &json!({"customerId": "c"}), &json!({}));
    let target = silent_target();
    let ran = run(
        &[
            "replay",
            "--target",
            &target,
            "--timeout",
            "300ms",
            "--apikey",
            "k",
            "--secretkey",
            "s",
            file.to_str().unwrap(),
        ],
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(2), "stdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
    // Three requests at 300 ms each, then it gives up: well under 5 × 300 ms
    // plus the start, and nowhere near "forever".
    assert!(ran.took < Duration::from_secs(10), "took {:?}", ran.took);
    assert!(
        ran.stderr
            .contains(&format!("{target} answered none of the first 3 requests; 2 not sent")),
        "{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("no answer within 300ms (--timeout)"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stderr.lines().count(), 1, "one line says it: {}", ran.stderr);
    assert!(
        ran.stdout.contains("3 unanswered"),
        "the report says it too: {}",
        ran.stdout
    );
    no_terminal_codes(&ran.stderr);
}

#[test]
fn replay_refuses_redacted_credentials_it_cannot_replace_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = recording(dir.path(), 8, &json!({"customerId": "c"}), &json!({}));
    // Nothing listens there: the refusal comes before anything is sent.
    let target = format!("http://127.0.0.1:{}", crate::common::binary::free_port());
    let ran = run(
        &["replay", "--target", &target, file.to_str().unwrap()],
        &[],
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(2), "{}", ran.stderr);
    assert!(ran.stdout.is_empty(), "no report of 401s: {}", ran.stdout);
    let lines: Vec<&str> = ran.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", ran.stderr);
    for want in [
        "apikey (8 requests) and secretkey (8 requests) are redacted",
        "--apikey",
        "COUPONBRIDGE_REPLAY_APIKEY",
        "COUPONBRIDGE_REPLAY_SECRETKEY",
    ] {
        assert!(lines[0].contains(want), "{want} in {}", lines[0]);
    }
    // Only the secret key given: the message names the apikey alone.
    let ran = run(
        &["replay", "--target", &target, file.to_str().unwrap()],
        &[("COUPONBRIDGE_REPLAY_SECRETKEY", "s")],
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(2));
    assert!(ran.stderr.contains("apikey (8 requests) is redacted"), "{}", ran.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_takes_its_credentials_from_the_environment() {
    let env = Env::start(StoreKind::Memory).await;
    let body = json!({"customerId": "cust-1", "coupons": ["PERCENT20"], "totalPurchaseAmount": 250});
    let answer = env.validate(body.clone()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    let dir = tempfile::tempdir().unwrap();
    let file = recording(dir.path(), 2, &body, &answer.json());
    let base = env.adapter().base_url();
    let file = file.to_str().unwrap().to_owned();
    let ran = tokio::task::spawn_blocking(move || {
        run(
            &["replay", "--target", &base, &file],
            &[
                ("COUPONBRIDGE_REPLAY_APIKEY", API_KEY),
                ("COUPONBRIDGE_REPLAY_SECRETKEY", SECRET_KEY),
            ],
            Duration::from_secs(30),
        )
    })
    .await
    .unwrap();
    assert_eq!(ran.code, Some(0), "stdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.ends_with("2 passed, 0 failed\n"), "{}", ran.stdout);
    assert!(
        ran.stderr.is_empty(),
        "no progress bar off a terminal: {:?}",
        ran.stderr
    );
    // --help shows where the credentials come from, never their values.
    let help = run(
        &["replay", "--help"],
        &[("COUPONBRIDGE_REPLAY_SECRETKEY", "top-secret-value")],
        Duration::from_secs(20),
    );
    assert!(help.stdout.contains("COUPONBRIDGE_REPLAY_SECRETKEY"), "{}", help.stdout);
    assert!(!help.stdout.contains("top-secret-value"), "{}", help.stdout);
}

#[test]
fn an_empty_or_unreadable_recording_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let no_api = dir.path().join("browser.har");
    std::fs::write(
        &no_api,
        json!({"log": {"version": "1.2", "entries": [
            {"request": {"method": "GET", "url": "https://shop.example/app.js", "headers": []},
             "response": {"status": 200, "content": {}}}
        ]}})
        .to_string(),
    )
    .unwrap();
    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(&garbage, "{\"request\": {}}\nnot json\n").unwrap();
    let missing = dir.path().join("missing.jsonl");
    for (file, says) in [
        (
            &empty,
            "nothing to replay: no Gameball API call in the recording (0 entries skipped)",
        ),
        (
            &no_api,
            "nothing to replay: no Gameball API call in the recording (1 entry skipped)",
        ),
        (&garbage, "garbage.jsonl:2"),
        (&missing, "missing.jsonl"),
    ] {
        for mode in [["--target", "http://127.0.0.1:9"], ["--offline", "--strict"]] {
            let mut args = vec!["replay"];
            args.extend(mode);
            args.push(file.to_str().unwrap());
            let ran = run(&args, &[], Duration::from_secs(20));
            assert_eq!(ran.code, Some(2), "{args:?}: {}", ran.stderr);
            assert!(ran.stderr.contains(says), "{args:?}: {says} in {}", ran.stderr);
            assert!(ran.stdout.is_empty(), "{args:?}: {}", ran.stdout);
        }
    }
}

/// `script` (util-linux) gives the run a terminal: there, and only there,
/// the progress bar is drawn.
#[test]
fn replay_draws_progress_on_a_terminal_only() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: script(1) is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = recording(dir.path(), 4, &json!({"customerId": "c"}), &json!({}));
    let target = silent_target();
    let line = format!(
        "{BIN} replay --target {target} --timeout 400ms --apikey k --secretkey s {} >/dev/null",
        file.display()
    );
    let mut child = Command::new("script")
        .args(["-qefc", &line, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = String::new();
    child.stdout.take().unwrap().read_to_string(&mut seen).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2), "{seen}");
    assert!(seen.contains("replay ["), "a bar on the terminal: {seen:?}");
    assert!(seen.contains("unanswered"), "{seen:?}");
    // The same run off a terminal: the first test shows its stderr is one
    // plain line.
}

#[test]
fn version_names_the_commit() {
    let ran = run(&["--version"], &[], Duration::from_secs(20));
    assert_eq!(ran.code, Some(0));
    let line = ran.stdout.trim();
    let commit = line
        .strip_prefix(&format!("couponbridge {} (commit ", env!("CARGO_PKG_VERSION")))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{line}"));
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    match (head, std::env::var("COUPONBRIDGE_COMMIT").ok()) {
        // Built with an explicit commit (the Dockerfile's way): that one.
        (_, Some(given)) if !given.is_empty() => assert_eq!(commit, given),
        // Built in a checkout: its HEAD when it was built (a commit made
        // since rebuilds, as build.rs watches HEAD).
        (Some(head), _) => assert_eq!(commit, head, "{line}"),
        (None, _) => assert_eq!(commit, "unknown"),
    }
}

fn subcommand_names() -> Vec<String> {
    use clap::CommandFactory;
    couponbridge::cli::Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

#[test]
fn the_man_pages_name_every_subcommand() {
    let names = subcommand_names();
    assert!(names.len() >= 9, "{names:?}");
    let ran = run(&["man"], &[], Duration::from_secs(20));
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stdout.starts_with(".ie"),
        "roff: {}",
        &ran.stdout[..80.min(ran.stdout.len())]
    );
    assert!(ran.stdout.contains(".TH couponbridge 1"), "{}", ran.stdout);
    for name in &names {
        assert!(
            ran.stdout
                .contains(&format!("couponbridge\\-{}(1)", name.replace('-', "\\-"))),
            "couponbridge(1) names {name}:\n{}",
            ran.stdout
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    let ran = run(&["man", "--out", out.to_str().unwrap()], &[], Duration::from_secs(20));
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(out.join("couponbridge.1").is_file());
    for name in &names {
        let page = std::fs::read_to_string(out.join(format!("couponbridge-{name}.1")))
            .unwrap_or_else(|e| panic!("couponbridge-{name}.1: {e}"));
        assert!(page.contains(".SH SYNOPSIS"), "{name}: {page}");
    }
    let replay = std::fs::read_to_string(out.join("couponbridge-replay.1")).unwrap();
    assert!(
        replay.contains("timeout") && replay.contains("COUPONBRIDGE_REPLAY_APIKEY"),
        "{replay}"
    );
    // Where groff is installed, the page renders without a warning.
    if let Ok(o) = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-z"])
        .arg(out.join("couponbridge.1"))
        .output()
    {
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn the_bash_completion_script_parses_and_knows_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    for (shell, check) in [("bash", "bash"), ("zsh", "zsh"), ("fish", "fish")] {
        let ran = run(&["completions", shell], &[], Duration::from_secs(20));
        assert_eq!(ran.code, Some(0), "{shell}: {}", ran.stderr);
        for name in subcommand_names() {
            assert!(ran.stdout.contains(&name), "{shell} completes {name}");
        }
        let script = dir.path().join(format!("couponbridge.{shell}"));
        std::fs::write(&script, &ran.stdout).unwrap();
        let syntax = match shell {
            "fish" => Command::new(check).arg("--no-execute").arg(&script).output(),
            _ => Command::new(check).arg("-n").arg(&script).output(),
        };
        match syntax {
            Ok(o) => assert!(o.status.success(), "{shell} -n: {}", String::from_utf8_lossy(&o.stderr)),
            Err(_) if shell != "bash" => eprintln!("{shell} is not installed: its script is not parsed"),
            Err(e) => panic!("bash: {e}"),
        }
    }
    // bash itself completes the subcommands from it.
    let complete = format!(
        "source {}; COMP_WORDS=(couponbridge sha); COMP_CWORD=1; _couponbridge couponbridge sha couponbridge; echo \"${{COMPREPLY[@]}}\"",
        dir.path().join("couponbridge.bash").display()
    );
    let o = Command::new("bash").args(["-c", &complete]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim(),
        "shadow-report",
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// replay's credentials in the environment are not configuration: a CI job
/// that exports them still starts (and checks) the adapter.
#[test]
fn replay_credentials_in_the_environment_do_not_break_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("couponbridge.toml");
    std::fs::write(
        &config,
        crate::common::binary::config(18080, None, "url = \"memory://\"", "http://127.0.0.1:9", ""),
    )
    .unwrap();
    let ran = run(
        &["check-config", "--config", config.to_str().unwrap()],
        &[
            ("COUPONBRIDGE_REPLAY_APIKEY", "k"),
            ("COUPONBRIDGE_REPLAY_SECRETKEY", "s"),
            ("COUPONBRIDGE_COMMIT", "abc"),
        ],
        Duration::from_secs(20),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
}
