//! couponbridge's integration tests: one binary (one link step), real
//! sockets, a real redis-server, the simulator in-process.

/// Runs each named scenario (an `async fn(StoreKind)`) as two tests: on
/// the memory store and on a real redis-server.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::env::StoreKind::Memory).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::common::env::StoreKind::Redis).await
                }
            )*
        }
    };
}

mod adapter;
mod architecture;
mod common;
mod config;
mod cutover;
mod dialects;
mod docs;
mod durability;
mod hostile;
mod interleave;
mod lifecycle;
mod operator;
mod ops;
mod perf;
mod pipelines;
mod redaction;
mod reload;
mod replay;
mod report;
mod robustness;
mod rollout;
mod scale;
mod sdk;
mod shadow;
mod shadow_bounds;
mod shadow_routes;
mod sim;
mod sim_lifecycle;
mod sim_sdk;
mod tracing;
