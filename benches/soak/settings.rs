//! The one tenant the soak drives, and couponbridge's configuration for it.

use couponbridge::sim::{DEFAULT_APP_ID, DEFAULT_APP_TOKEN};

pub const API_KEY: &str = "soak-api-key";
pub const SECRET_KEY: &str = "soak-secret-key-123";
pub const TENANT: &str = "shop";
/// couponbridge's deadline on each Voucherify call.
pub const UPSTREAM_TIMEOUT_MS: u64 = 1_000;

pub fn config_text(redis_url: &str, sim_url: &str) -> String {
    format!(
        r#"
        [server]
        listen = "127.0.0.1:0"
        shutdown_grace = "2s"
        [admin]
        enabled = false
        [store]
        url = "{redis_url}"
        [log]
        level = "error"
        [tenants.{TENANT}]
        api_key = "{API_KEY}"
        secret_key = "{SECRET_KEY}"
        [tenants.{TENANT}.voucherify]
        base_url = "{sim_url}"
        app_id = "{DEFAULT_APP_ID}"
        app_token = "{DEFAULT_APP_TOKEN}"
        timeout = "{UPSTREAM_TIMEOUT_MS}ms"
        "#
    )
}
