//! couponbridge in-process, restartable; its base URL shared with the
//! workers.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use couponbridge::clock::Clock;
use couponbridge::config::Config;
use couponbridge::serve::{self, Running};

pub struct Adapter {
    config: Config,
    running: tokio::sync::Mutex<Option<Running>>,
    /// The running instance's base URL, which the workers follow.
    pub base: Arc<RwLock<String>>,
    /// couponbridge's own count of failed upstream calls, by kind, summed
    /// over every instance (read before each one stops).
    pub upstream_errors: Mutex<BTreeMap<String, u64>>,
}

impl Adapter {
    pub async fn start(config: Config) -> Result<Adapter, String> {
        let running = serve::start(&config, Clock::System).await.map_err(|e| e.to_string())?;
        let base = Arc::new(RwLock::new(running.base_url()));
        Ok(Adapter {
            config,
            running: tokio::sync::Mutex::new(Some(running)),
            base,
            upstream_errors: Mutex::new(BTreeMap::new()),
        })
    }

    /// A deploy: the running instance drains and stops, a new one starts
    /// on the same configuration (a new port), the workers follow `base`.
    pub async fn restart(&self) -> Result<(), String> {
        let mut guard = self.running.lock().await;
        self.shut_down(&mut guard).await;
        let mut last = String::new();
        for _ in 0..20 {
            match serve::start(&self.config, Clock::System).await {
                Ok(r) => {
                    *self.base.write().unwrap() = r.base_url();
                    *guard = Some(r);
                    return Ok(());
                }
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(last)
    }

    pub async fn stop(&self) {
        self.shut_down(&mut *self.running.lock().await).await;
    }

    /// Stops the running instance, if any, its metrics read first.
    async fn shut_down(&self, running: &mut Option<Running>) {
        if let Some(r) = running.take() {
            self.collect_metrics(&r);
            r.shutdown().await;
        }
    }

    fn collect_metrics(&self, r: &Running) {
        let text = r.metrics.render();
        let mut sums = self.upstream_errors.lock().unwrap();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("couponbridge_upstream_errors_total{kind=\"") else {
                continue;
            };
            let Some((kind, value)) = rest.split_once("\"} ") else {
                continue;
            };
            *sums.entry(kind.to_owned()).or_default() += value.trim().parse::<f64>().unwrap_or(0.0) as u64;
        }
    }
}
