//! The admin listener (`[admin] listen`, default 127.0.0.1:9901), apart
//! from merchant traffic: `/livez` (the process answers; never touches
//! Redis, so a Redis blip is not a restart storm), `/readyz` (the lock store
//! answers and the instance is not draining), `/metrics`, and `/rollout`
//! (each tenant's rollout shares and guards, as JSON).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::DurabilityMode;
use crate::locks::Store;
use crate::metrics::Metrics;
use crate::net::server::{self, ServeOptions};
use crate::net::{Body, full, json_response};
use crate::rollout::Rollout;

pub struct AdminState {
    pub store: Store,
    pub metrics: Arc<Metrics>,
    /// Set at the start of shutdown: `/readyz` answers 503 from then on.
    pub draining: Arc<AtomicBool>,
    /// With `require`, not ready while Redis would lose acknowledged locks.
    pub durability: DurabilityMode,
    pub rollout: Rollout,
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    owned_text(status, body.to_owned())
}

fn owned_text(status: StatusCode, body: String) -> Response<Body> {
    let mut res = Response::new(full(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

async fn handle(state: Arc<AdminState>, req: Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/livez") => text(StatusCode::OK, "ok\n"),
        (&Method::GET, "/readyz") => {
            if state.draining.load(Ordering::Acquire) {
                return text(StatusCode::SERVICE_UNAVAILABLE, "not ready: draining\n");
            }
            match tokio::time::timeout(Duration::from_secs(1), state.store.ping()).await {
                Ok(Ok(())) => {}
                _ => return text(StatusCode::SERVICE_UNAVAILABLE, "not ready: lock store unavailable\n"),
            }
            if state.durability != DurabilityMode::Require {
                return text(StatusCode::OK, "ready\n");
            }
            match tokio::time::timeout(Duration::from_secs(1), state.store.durability()).await {
                Ok(Ok(d)) if d.durable => text(StatusCode::OK, "ready\n"),
                Ok(Ok(d)) => owned_text(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}\n", d.detail)),
                _ => text(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "not ready: the lock store's persistence cannot be read\n",
                ),
            }
        }
        (&Method::GET, "/metrics") => {
            let mut res = Response::new(full(state.metrics.render()));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
            );
            res
        }
        (&Method::GET, "/rollout") => json_response(StatusCode::OK, &state.rollout.status()),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

pub async fn serve(listener: TcpListener, state: Arc<AdminState>, shutdown: CancellationToken) {
    let opts = ServeOptions {
        max_connections: 64,
        shutdown_grace: Duration::from_secs(1),
        ..ServeOptions::default()
    };
    server::serve(listener, opts, shutdown, move |req, _| {
        let state = state.clone();
        async move { Ok(handle(state, req).await) }
    })
    .await
}
