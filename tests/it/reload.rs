//! Reload without restart, as an operator does it: the real `couponbridge
//! serve` binary, its config file rewritten, a real SIGHUP (and a file
//! watch). The simulator and the stand-in for Gameball run in this test.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use couponbridge::sim::faults::{Fault, Faults};
use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN};
use serde_json::json;

use crate::common::env::{AUTH, V};
use crate::common::upstream::Upstream;
use crate::common::{Client, Reply};

struct Serve {
    child: Child,
    base: String,
    admin: String,
    log: std::path::PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config(listen: u16, admin: u16, sim: &str, upstream: &str, watch: bool, extra: &str) -> String {
    format!(
        r#"
        [server]
        listen = "127.0.0.1:{listen}"
        {server_extra}
        [admin]
        listen = "127.0.0.1:{admin}"
        [store]
        url = "memory://"
        [log]
        format = "json"
        [passthrough]
        upstream = "{upstream}"
        [tenants.shop]
        api_key = "{api}"
        secret_key = "{secret}"
        [tenants.shop.voucherify]
        base_url = "{sim}"
        app_id = "{DEFAULT_APP_ID}"
        app_token = "{DEFAULT_APP_TOKEN}"
        {extra}
        "#,
        server_extra = if watch { "watch_config = true" } else { "" },
        api = crate::common::env::API_KEY,
        secret = crate::common::env::SECRET_KEY,
    )
}

fn write(path: &Path, text: &str) {
    // Written beside, then renamed over: what config management does.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

async fn wait_until(client: &Client, url: &str, what: &str, done: impl Fn(&Reply) -> bool) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = client.send("GET", url, &[], None).await;
        if done(&r) {
            return r;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}: {}", r.text());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn start(dir: &Path, text: &str) -> Serve {
    let path = dir.join("couponbridge.toml");
    write(&path, text);
    let log = dir.join("serve.log");
    let child = Command::new(env!("CARGO_BIN_EXE_couponbridge"))
        .args(["serve", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("couponbridge serve starts");
    let base = text
        .split("listen = \"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let admin = text
        .split("listen = \"")
        .nth(2)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let serve = Serve {
        child,
        base: format!("http://{base}"),
        admin: format!("http://{admin}"),
        log,
    };
    let admin = admin.clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(admin.as_str()).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "couponbridge serve never listened: {}",
            std::fs::read_to_string(&serve.log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_until(&Client::new(), &format!("{}/readyz", serve.admin), "readiness", |r| {
        r.status == 200
    })
    .await;
    serve
}

fn hangup(s: &Serve) {
    let ok = Command::new("kill")
        .args(["-HUP", &s.child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -HUP");
}

async fn reloads(client: &Client, s: &Serve, result: &str, n: u64) {
    let want = format!("couponbridge_config_reloads_total{{result=\"{result}\"}} {n}");
    wait_until(client, &format!("{}/metrics", s.admin), &want, |r| {
        r.text().contains(&want)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_a_tenant_and_switches_a_route_while_a_request_is_in_flight() {
    let sim = crate::sim::Sim::start().await;
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (listen, admin) = (free_port(), free_port());
    let original = config(listen, admin, &sim.running.base_url(), &upstream.url(), false, "");
    let serve = start(dir.path(), &original).await;
    let client = Client::new();
    let fingerprint_before = client
        .send("GET", &format!("{}/metrics", serve.admin), &[], None)
        .await
        .text();

    // A validation held in Voucherify while the configuration changes.
    sim.running.sim.set_faults(Faults {
        script: [Fault::Hold].into(),
        path_prefix: Some("/v1/validations".into()),
        ..Faults::default()
    });
    let mut begun = sim.running.sim.requests_begun();
    let seen = *begun.borrow_and_update();
    let url = format!("{}{V}/coupons/validate", serve.base);
    let in_flight = {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            client
                .send(
                    "POST",
                    &url,
                    &AUTH,
                    Some(&json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
                )
                .await
        })
    };
    begun.wait_for(|n| *n > seen).await.unwrap();

    let changed = config(
        listen,
        admin,
        &sim.running.base_url(),
        &upstream.url(),
        false,
        &format!(
            "[tenants.shop.routes]\nvalidate = \"passthrough\"\n[tenants.other]\napi_key = \"other-key\"\nsecret_key = \"other-secret\"\n\
             [tenants.other.voucherify]\nbase_url = \"{}\"\napp_id = \"{DEFAULT_APP_ID}\"\napp_token = \"{DEFAULT_APP_TOKEN}\"\n",
            sim.running.base_url()
        ),
    );
    write(&dir.path().join("couponbridge.toml"), &changed);
    hangup(&serve);
    reloads(&client, &serve, "ok", 1).await;

    sim.running.sim.set_faults(Faults::default());
    let old = in_flight.await.unwrap();
    assert_eq!(old.status, 200, "{}", old.text());
    assert!(
        old.json()["validCoupons"].is_array(),
        "the request in flight ends on the old config: {}",
        old.text()
    );

    let next = client
        .send(
            "POST",
            &url,
            &AUTH,
            Some(&json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
        )
        .await;
    assert_eq!(
        next.json()["path"],
        format!("{V}/coupons/validate"),
        "now passed through to Gameball: {}",
        next.text()
    );
    let other = client
        .send(
            "POST",
            &url,
            &[("apikey", "other-key"), ("secretkey", "other-secret")],
            Some(&json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
        )
        .await;
    assert_eq!(other.status, 200, "the added tenant is served: {}", other.text());
    assert!(other.json()["validCoupons"].is_array());
    let metrics = client
        .send("GET", &format!("{}/metrics", serve.admin), &[], None)
        .await
        .text();
    let info = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("couponbridge_config_info"))
            .unwrap_or("")
            .to_owned()
    };
    assert_ne!(
        info(&metrics),
        info(&fingerprint_before),
        "the config's fingerprint changed"
    );

    // An invalid file is refused whole, every error logged, the old config kept.
    let broken = changed
        .replace("validate = \"passthrough\"", "validate = \"sideways\"")
        .replace("secret_key = \"other-secret\"", "secret_key = \"\"");
    write(&dir.path().join("couponbridge.toml"), &broken);
    hangup(&serve);
    reloads(&client, &serve, "error", 1).await;
    let still = client
        .send(
            "POST",
            &url,
            &[("apikey", "other-key"), ("secretkey", "other-secret")],
            Some(&json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
        )
        .await;
    assert_eq!(still.status, 200, "the previous config stays: {}", still.text());
    let log = std::fs::read_to_string(&serve.log).unwrap();
    for key in ["tenants.shop.routes.validate", "tenants.other.secret_key"] {
        assert!(log.contains(key), "the log names {key}:\n{log}");
    }
    assert!(!log.contains(crate::common::env::SECRET_KEY), "no secret in the log");

    // A changed listen address needs a restart: reported, not applied.
    let moved = changed.replace(&format!("127.0.0.1:{listen}"), &format!("127.0.0.1:{}", free_port()));
    write(&dir.path().join("couponbridge.toml"), &moved);
    hangup(&serve);
    reloads(&client, &serve, "ok", 2).await;
    let log = std::fs::read_to_string(&serve.log).unwrap();
    assert!(log.contains("server.listen") && log.contains("restart"), "{log}");
    let served = client.send("POST", &url, &[], None).await;
    assert_ne!(served.status, 0, "still listening where it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_config_reloads_when_the_file_changes() {
    let sim = crate::sim::Sim::start().await;
    let upstream = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (listen, admin) = (free_port(), free_port());
    let serve = start(
        dir.path(),
        &config(listen, admin, &sim.running.base_url(), &upstream.url(), true, ""),
    )
    .await;
    let client = Client::new();
    let changed = config(
        listen,
        admin,
        &sim.running.base_url(),
        &upstream.url(),
        true,
        "[tenants.shop.routes]\nvalidate = \"passthrough\"\n",
    );
    write(&dir.path().join("couponbridge.toml"), &changed);
    reloads(&client, &serve, "ok", 1).await;
    let r = client
        .send(
            "POST",
            &format!("{}{V}/coupons/validate", serve.base),
            &AUTH,
            Some(&json!({"customerId": "c", "coupons": ["AMOUNT10"]})),
        )
        .await;
    assert_eq!(r.json()["path"], format!("{V}/coupons/validate"), "{}", r.text());
}
