//! What the soak runs against: redis-server (a child process), the
//! Voucherify simulator and couponbridge (both in this process).

use std::sync::Arc;

use couponbridge::config::Config;
use couponbridge::sim::{RunningSim, SimBuilder};

use crate::adapter::Adapter;
use crate::catalogue::catalogue;
use crate::redis_server::Redis;
use crate::settings::config_text;

/// Dropped in field order: the simulator, couponbridge, then Redis.
pub struct Stack {
    pub sim: RunningSim,
    pub adapter: Adapter,
    /// Shared with the blocking task that restarts it.
    pub redis: Arc<Redis>,
}

impl Stack {
    /// Redis, the simulator holding the catalogue, couponbridge on both;
    /// the error says which did not start.
    pub async fn start() -> Result<Stack, String> {
        let redis = Arc::new(Redis::start()?);
        let sim = SimBuilder::new()
            .seed(catalogue())
            .start("127.0.0.1:0")
            .await
            .map_err(|e| format!("the simulator did not start: {e}"))?;
        let config = Config::from_toml(&config_text(&redis.url(), &sim.base_url())).map_err(|e| e.to_string())?;
        let adapter = Adapter::start(config)
            .await
            .map_err(|e| format!("couponbridge did not start: {e}"))?;
        Ok(Stack { sim, adapter, redis })
    }
}
