//! Builders for the whole system under test (linkerd's harness idea): a
//! simulator, a lock store (a real redis-server, or memory), and the adapter
//! on port 0, plus a client that speaks Gameball.

use std::time::Duration;

use couponbridge::clock::Clock;
use couponbridge::config::Config;
use couponbridge::serve::{self, Running};
use couponbridge::sim::model::ApplicationMode;
use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN, RunningSim};
use serde_json::Value;

use super::redis_server::{RedisCluster, RedisSentinel};
use super::{Client, RedisServer, Reply};

pub const API_KEY: &str = "shop-api-key";
pub const SECRET_KEY: &str = "shop-secret-key-123";
pub const AUTH: [(&str, &str); 2] = [("apikey", API_KEY), ("secretkey", SECRET_KEY)];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
    /// A three-master Redis Cluster.
    Cluster,
    /// A master and a replica behind a sentinel.
    Sentinel,
}

pub struct EnvBuilder {
    server: String,
    store: StoreKind,
    mode: ApplicationMode,
    extra: String,
    voucherify_url: Option<String>,
    timeout: &'static str,
    decimals: u32,
    tenant: String,
    store_lines: Option<String>,
}

impl EnvBuilder {
    /// The `[store]` table's lines, in place of the store kind's (a Redis
    /// the test started itself).
    pub fn store(mut self, lines: &str) -> Self {
        self.store_lines = Some(lines.to_owned());
        self
    }

    /// An extra line in the `shop` tenant's table (e.g. its dialect).
    pub fn tenant(mut self, line: &str) -> Self {
        self.tenant.push_str(line);
        self.tenant.push('\n');
        self
    }

    pub fn mode(mut self, mode: ApplicationMode) -> Self {
        self.mode = mode;
        self
    }

    /// Extra TOML appended to the configuration (more tenants, sections).
    pub fn toml(mut self, extra: &str) -> Self {
        self.extra.push_str(extra);
        self
    }

    /// Points the tenant at another Voucherify (e.g. a closed port).
    pub fn voucherify_url(mut self, url: &str) -> Self {
        self.voucherify_url = Some(url.to_owned());
        self
    }

    pub fn timeout(mut self, t: &'static str) -> Self {
        self.timeout = t;
        self
    }

    pub fn decimals(mut self, d: u32) -> Self {
        self.decimals = d;
        self
    }

    /// An extra line in the `[server]` table.
    pub fn server(mut self, line: &str) -> Self {
        self.server.push_str(line);
        self.server.push('\n');
        self
    }

    pub async fn start(self) -> Env {
        let crate::sim::Sim {
            running: sim, clock, ..
        } = crate::sim::Sim::with(self.mode).await;
        let redis = (self.store == StoreKind::Redis).then(RedisServer::start);
        let cluster = (self.store == StoreKind::Cluster).then(RedisCluster::start);
        let sentinel = (self.store == StoreKind::Sentinel).then(RedisSentinel::start);
        let store = match (&redis, &cluster, &sentinel) {
            (Some(r), _, _) => format!("url = \"{}\"", r.url()),
            (_, Some(c), _) => {
                let urls = c.urls();
                format!("mode = \"cluster\"\nurl = \"{}\"\nnodes = {:?}", urls[0], &urls[1..])
            }
            (_, _, Some(s)) => format!(
                "mode = \"sentinel\"\nurl = \"redis://127.0.0.1:{}\"\nmaster_name = \"mymaster\"",
                s.sentinel.port
            ),
            _ => "url = \"memory://\"".to_owned(),
        };
        let store = self.store_lines.unwrap_or(store);
        let mut env = Env {
            server: self.server,
            store,
            _cluster: cluster,
            sentinel,
            voucherify_url: self.voucherify_url.unwrap_or_else(|| sim.base_url()),
            extra: self.extra,
            timeout: self.timeout,
            decimals: self.decimals,
            tenant: self.tenant,
            sim,
            redis,
            clock,
            adapter: None,
            client: Client::new(),
        };
        env.adapter = Some(
            serve::start(&env.config(), env.clock.clone())
                .await
                .expect("the adapter starts"),
        );
        env
    }
}

pub struct Env {
    pub sim: RunningSim,
    pub redis: Option<RedisServer>,
    pub clock: Clock,
    pub client: Client,
    _cluster: Option<RedisCluster>,
    pub sentinel: Option<RedisSentinel>,
    adapter: Option<Running>,
    server: String,
    store: String,
    voucherify_url: String,
    extra: String,
    timeout: &'static str,
    decimals: u32,
    tenant: String,
}

impl Env {
    pub fn builder(store: StoreKind) -> EnvBuilder {
        EnvBuilder {
            server: String::new(),
            store,
            mode: ApplicationMode::All,
            extra: String::new(),
            voucherify_url: None,
            timeout: "2s",
            decimals: 2,
            tenant: String::new(),
            store_lines: None,
        }
    }

    pub async fn start(store: StoreKind) -> Env {
        Self::builder(store).start().await
    }

    pub fn config_text(&self) -> String {
        format!(
            r#"
            [server]
            listen = "127.0.0.1:0"
            {server}
            [admin]
            listen = "127.0.0.1:0"
            [store]
            {store}
            [tenants.shop]
            api_key = "{API_KEY}"
            secret_key = "{SECRET_KEY}"
            currency_decimals = {decimals}
            {tenant}
            [tenants.shop.voucherify]
            base_url = "{vf}"
            app_id = "{DEFAULT_APP_ID}"
            app_token = "{DEFAULT_APP_TOKEN}"
            timeout = "{timeout}"
            {extra}
            "#,
            server = self.server,
            store = self.store,
            decimals = self.decimals,
            tenant = self.tenant,
            vf = self.voucherify_url,
            timeout = self.timeout,
            extra = self.extra,
        )
    }

    pub fn config(&self) -> Config {
        Config::from_toml(&self.config_text()).unwrap_or_else(|e| panic!("{e}"))
    }

    pub fn adapter(&self) -> &Running {
        self.adapter.as_ref().expect("the adapter is running")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.adapter().base_url())
    }

    /// The admin listener's `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.client
            .send("GET", &self.admin_url("/metrics"), &[], None)
            .await
            .text()
    }

    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.adapter().admin_addr.expect("admin listener"))
    }

    /// A call as the `shop` tenant.
    pub async fn gb(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.client.send(method, &self.url(path), &AUTH, body.as_ref()).await
    }

    /// `POST {V}{path}` with `body`, as the tenant (`path` below
    /// `/api/v4.0/integrations`).
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.gb("POST", &format!("{V}{path}"), Some(body)).await
    }

    /// `GET {V}{path}`, as the tenant.
    pub async fn get(&self, path: &str) -> Reply {
        self.gb("GET", &format!("{V}{path}"), None).await
    }

    /// `DELETE {V}{path}`, as the tenant.
    pub async fn delete(&self, path: &str) -> Reply {
        self.gb("DELETE", &format!("{V}{path}"), None).await
    }

    /// An order redeeming lock `reference`, as a checkout places it.
    pub async fn order_with_lock(&self, customer: &str, order_id: &str, paid: u32, reference: &str) -> Reply {
        self.post(
            "/orders",
            serde_json::json!({"customerId": customer, "orderId": order_id, "totalPaid": paid,
                "redemption": {"couponsLockReference": reference}}),
        )
        .await
    }

    /// `POST …/coupons/validate` with `body`, as the tenant.
    pub async fn validate(&self, body: Value) -> Reply {
        self.gb("POST", &format!("{V}/coupons/validate"), Some(body)).await
    }

    pub async fn gb_as(&self, auth: &[(&str, &str)], method: &str, path: &str, body: Option<Value>) -> Reply {
        self.client.send(method, &self.url(path), auth, body.as_ref()).await
    }

    /// Adds TOML to the configuration the next [`Env::restart`] reads
    /// (settings that name what the test made in the simulator first).
    pub fn add_toml(&mut self, text: &str) {
        self.extra.push('\n');
        self.extra.push_str(text);
    }

    /// Replaces the TOML [`Env::add_toml`] added and reloads the running
    /// adapter in place, as SIGHUP does: requests in flight finish on the
    /// configuration they started with (the file and the signal are
    /// `reload.rs`'s to test). Off the runtime, as the server reloads.
    pub async fn reload_with(&mut self, text: &str) {
        self.extra = text.to_owned();
        let cfg = self.config();
        let reloads = self.adapter().reloads();
        let needs_restart = tokio::task::spawn_blocking(move || reloads.apply(&cfg).map_err(|e| e.to_string()))
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("the reload applies: {e}"));
        assert!(needs_restart.is_empty(), "{needs_restart:?}");
    }

    /// Stops the adapter and starts a new one on the same store and
    /// simulator (a deploy, a crash).
    pub async fn restart(&mut self) {
        if let Some(a) = self.adapter.take() {
            a.shutdown().await;
        }
        self.adapter = Some(
            serve::start(&self.config(), self.clock.clone())
                .await
                .expect("the adapter restarts"),
        );
    }

    /// Starts the adapter's shutdown (as SIGTERM does) and waits for it.
    pub async fn stop_adapter(&mut self) {
        if let Some(a) = self.adapter.take() {
            a.shutdown().await;
        }
    }

    /// Runs `f` on the simulated project (to inspect vouchers and sessions).
    pub fn project<R>(&self, f: impl FnOnce(&mut couponbridge::sim::engine::ProjectState) -> R) -> R {
        self.sim
            .sim
            .project(DEFAULT_APP_ID)
            .expect("the default project")
            .with(f)
    }

    pub fn live_sessions(&self) -> Vec<Value> {
        let now = self.clock.now();
        self.project(|p| p.live_sessions(now))
    }

    pub fn redeemed(&self, code: &str) -> i64 {
        self.project(|p| p.vouchers[code].redeemed_quantity)
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    /// Lets a lock's retention pass: the memory store forgets by the
    /// injectable clock, Redis by its own TTL, which no test waits for, so
    /// the key goes as the TTL would take it.
    pub async fn retention_passes(&self, reference: &str) {
        self.advance(Duration::from_secs(3 * 86_400));
        if let Some(redis) = &self.redis {
            let mut c = redis::Client::open(redis.url())
                .unwrap()
                .get_multiplexed_async_connection()
                .await
                .unwrap();
            let key = format!("cb:{{shop:{reference}}}:lock");
            let gone: i64 = redis::cmd("DEL").arg(&key).query_async(&mut c).await.unwrap();
            assert_eq!(gone, 1, "{key} was in Redis");
        }
    }
}

pub const V: &str = "/api/v4.0/integrations";
