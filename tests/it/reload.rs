//! Reload without restart, as an operator does it: the real `couponbridge
//! serve` binary, its config file rewritten, a real SIGHUP (and a file
//! watch). The simulator and the stand-in for Gameball run in this test.

use std::time::{Duration, Instant};

use couponbridge::sim::faults::{Fault, Faults};
use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN};
use serde_json::json;

use crate::common::binary::{self, Serve, free_port, with_server_keys, write};
use crate::common::env::{AUTH, V};
use crate::common::upstream::Upstream;
use crate::common::{Client, Reply};

fn config(listen: u16, admin: u16, sim: &str, upstream: &str, watch: bool, extra: &str) -> String {
    let server = if watch { "watch_config = true\n" } else { "" };
    let text = binary::config(
        listen,
        Some(admin),
        "url = \"memory://\"",
        sim,
        &format!("[passthrough]\nupstream = \"{upstream}\"\n{extra}"),
    );
    with_server_keys(&text, server)
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

async fn start(text: &str, listen: u16, admin: u16) -> (Serve, String) {
    let serve = Serve::start(text, listen).await;
    let admin = format!("http://127.0.0.1:{admin}");
    wait_until(&Client::new(), &format!("{admin}/readyz"), "readiness", |r| {
        r.status == 200
    })
    .await;
    (serve, admin)
}

async fn reloads(client: &Client, admin: &str, result: &str, n: u64) {
    let want = format!("couponbridge_config_reloads_total{{result=\"{result}\"}} {n}");
    wait_until(client, &format!("{admin}/metrics"), &want, |r| r.text().contains(&want)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_a_tenant_and_switches_a_route_while_a_request_is_in_flight() {
    let sim = crate::sim::Sim::start().await;
    let upstream = Upstream::start().await;
    let (listen, admin) = (free_port(), free_port());
    let original = config(listen, admin, &sim.running.base_url(), &upstream.url(), false, "");
    let (serve, admin_url) = start(&original, listen, admin).await;
    let client = Client::new();
    let fingerprint_before = client
        .send("GET", &format!("{admin_url}/metrics"), &[], None)
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
    write(&serve.config, &changed);
    serve.hangup();
    reloads(&client, &admin_url, "ok", 1).await;

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
    // A validation as the tenant the reload adds.
    let body = json!({"customerId": "c", "coupons": ["AMOUNT10"]});
    let as_other = || {
        client.send(
            "POST",
            &url,
            &[("apikey", "other-key"), ("secretkey", "other-secret")],
            Some(&body),
        )
    };
    let other = as_other().await;
    assert_eq!(other.status, 200, "the added tenant is served: {}", other.text());
    assert!(other.json()["validCoupons"].is_array());
    let metrics = client
        .send("GET", &format!("{admin_url}/metrics"), &[], None)
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

    // An invalid file is refused whole, every error logged as check-config
    // prints it (its file and line), the old config kept; a placeholder
    // secret is refused too.
    let broken = changed
        .replace("validate = \"passthrough\"", "validate = \"sideways\"")
        .replace("secret_key = \"other-secret\"", "secret_key = \"change-me\"");
    write(&serve.config, &broken);
    serve.hangup();
    reloads(&client, &admin_url, "error", 1).await;
    let still = as_other().await;
    assert_eq!(still.status, 200, "the previous config stays: {}", still.text());
    let log = serve.log();
    let line_of = |text: &str| broken.lines().position(|l| l.starts_with(text)).unwrap() + 1;
    let file = serve.config.display().to_string();
    for expected in [
        format!(
            "{file}:{}: tenants.shop.routes.validate: expected \\\"translate\\\", \\\"passthrough\\\" or \\\"shadow\\\", found the string \\\"sideways\\\"",
            line_of("validate = ")
        ),
        format!(
            "{file}:{}: tenants.other.secret_key: is a placeholder, not a secret",
            line_of("secret_key = \"change-me\"")
        ),
    ] {
        assert!(log.contains(&expected), "the log has {expected}:\n{log}");
    }
    assert!(!log.contains(crate::common::env::SECRET_KEY), "no secret in the log");

    // A changed listen address needs a restart: reported, not applied.
    let moved = changed.replace(&format!("127.0.0.1:{listen}"), &format!("127.0.0.1:{}", free_port()));
    write(&serve.config, &moved);
    serve.hangup();
    reloads(&client, &admin_url, "ok", 2).await;
    let log = serve.log();
    assert!(log.contains("server.listen") && log.contains("restart"), "{log}");
    let served = client.send("POST", &url, &[], None).await;
    assert_ne!(served.status, 0, "still listening where it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_config_reloads_when_the_file_changes() {
    watch_reload("").await;
}

// worker_threads = 1 is another scheduler (tokio's current-thread one):
// serving, the file watch and the reload all on that one thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_worker_thread_serves_and_reloads() {
    watch_reload("worker_threads = 1\n").await;
}

async fn watch_reload(server: &str) {
    let sim = crate::sim::Sim::start().await;
    let upstream = Upstream::start().await;
    let (listen, admin) = (free_port(), free_port());
    let cfg = |extra: &str| {
        with_server_keys(
            &config(listen, admin, &sim.running.base_url(), &upstream.url(), true, extra),
            server,
        )
    };
    let (serve, admin_url) = start(&cfg(""), listen, admin).await;
    let client = Client::new();
    let url = format!("{}{V}/coupons/validate", serve.base);
    let body = json!({"customerId": "c", "coupons": ["AMOUNT10"]});
    let r = client.send("POST", &url, &AUTH, Some(&body)).await;
    assert!(
        r.json()["validCoupons"].is_array(),
        "served through Voucherify: {}",
        r.text()
    );
    let changed = cfg("[tenants.shop.routes]\nvalidate = \"passthrough\"\n");
    write(&serve.config, &changed);
    reloads(&client, &admin_url, "ok", 1).await;
    let r = client.send("POST", &url, &AUTH, Some(&body)).await;
    assert_eq!(r.json()["path"], format!("{V}/coupons/validate"), "{}", r.text());
}
