//! The simulator's HTTP surface: authentication (`X-App-Id` /
//! `X-App-Token`) and injected faults in front of Voucherify's `/v1` routes
//! (`routes`), and operator routes under `/_sim`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::Simulator;
use super::engine::{ApiError, ProjectState, Query};
use super::faults::{Fault, Faults};
use super::model::ProjectSettings;
use super::routes::{V1Request, error_response, ok_json, query_param, route};
use crate::net::{Body, BoxError, json_bytes_response, json_response, read_body};

const MAX_BODY: usize = 1 << 20;

/// Decoded path segments after the leading slash.
fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

pub(super) async fn handle(sim: Arc<Simulator>, req: Request<Incoming>) -> Result<Response<Body>, BoxError> {
    let path = req.uri().path().to_owned();
    if path.starts_with("/_sim/") || path == "/_sim" {
        return Ok(operator(sim, req).await);
    }
    if !path.starts_with("/v1/") {
        return Ok(error_response(&ApiError::not_found("route", &path)));
    }
    sim.saw_request(req.headers().get("x-request-id").and_then(|v| v.to_str().ok()));
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some(project) = sim.authenticate(header("x-app-id"), header("x-app-token")).cloned() else {
        return Ok(error_response(&ApiError::new(
            401,
            "unauthorized",
            "Unauthorized",
            Some("Missing or invalid X-App-Id / X-App-Token".to_owned()),
        )));
    };

    let mut lose_answer = false;
    if sim.faults_active.load(Ordering::Acquire) {
        match inject_fault(&sim, req.method(), &path).await {
            Injected::Answer(res) => return Ok(res),
            Injected::Drop => return Err("simulated dropped connection".into()),
            Injected::LoseAnswer => lose_answer = true,
            Injected::None => {}
        }
    }

    let (parts, body) = req.into_parts();
    let v1 = V1Request {
        project,
        method: parts.method,
        query: Query::parse(parts.uri.query()),
        raw_query: parts.uri.query().map(str::to_owned),
        now: sim.clock().now(),
        body: read_body(body, MAX_BODY).await.map_err(|e| e.to_string()),
    };
    let seg = segments(&path);
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let res = route(&v1, &seg[1..], &path);
    if lose_answer {
        return Err("simulated lost answer".into());
    }
    Ok(res)
}

/// What an injected fault does to a request.
enum Injected {
    /// Nothing: answer normally.
    None,
    /// Answer this instead.
    Answer(Response<Body>),
    Drop,
    LoseAnswer,
}

/// Waits out the injected latency (or hold), then says what the fault
/// for `method path` does.
async fn inject_fault(sim: &Simulator, method: &Method, path: &str) -> Injected {
    let (delay, fault, release) = sim.decide_fault(method, path);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match fault {
        Fault::Ok => Injected::None,
        Fault::Hold => {
            if let Some(mut set) = release {
                let _ = set.changed().await;
            }
            Injected::None
        }
        Fault::LoseAnswer => Injected::LoseAnswer,
        Fault::Drop => Injected::Drop,
        Fault::Error => {
            let status = sim.faults().error_status;
            let e = ApiError::new(status, "internal_error", "Internal server error", None);
            Injected::Answer(error_response(&e))
        }
        Fault::RateLimit => {
            let retry = sim.faults().retry_after_secs;
            let mut res = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"code": 429, "message": "Too many requests hit the API too quickly."}),
            );
            let retry_at = sim.clock().now() / 1000 + retry as i64;
            res.headers_mut().insert("retry-after", HeaderValue::from(retry));
            res.headers_mut()
                .insert("x-rate-limit-retry", HeaderValue::from(retry_at));
            Injected::Answer(res)
        }
    }
}

/// Operator routes: sessions, faults, project settings, the manual clock.
async fn operator(sim: Arc<Simulator>, req: Request<Incoming>) -> Response<Body> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let app_id = query_param(req.uri().query(), "app_id");
    let project = match &app_id {
        Some(id) => sim.project(id).cloned(),
        None if sim.projects.len() == 1 => sim.projects.values().next().cloned(),
        None => None,
    };
    let now = sim.clock().now();
    let bad = |msg: String| json_response(StatusCode::BAD_REQUEST, &json!({"code": 400, "message": msg}));
    match (method, path.as_str()) {
        (Method::GET, "/_sim/health") => ok_json(&json!({"status": "ok"})),
        (Method::GET, "/_sim/sessions") => {
            let mut sessions = Vec::new();
            for p in sim
                .projects
                .values()
                .filter(|p| app_id.as_deref().is_none_or(|id| id == p.app_id))
            {
                for mut s in p.with(|st: &mut ProjectState| st.live_sessions(now)) {
                    s["app_id"] = p.app_id.clone().into();
                    sessions.push(s);
                }
            }
            ok_json(&json!({"sessions": sessions, "total": sessions.len()}))
        }
        (Method::GET, "/_sim/faults") => ok_json(&sim.faults()),
        (Method::DELETE, "/_sim/faults") => {
            sim.set_faults(Faults::default());
            ok_json(&sim.faults())
        }
        (Method::POST | Method::PUT, "/_sim/faults") => {
            let bytes = match read_body(req.into_body(), MAX_BODY).await {
                Ok(b) => b,
                Err(e) => return bad(e.to_string()),
            };
            match serde_json::from_slice::<Faults>(&bytes) {
                Ok(f) => match f.check() {
                    Ok(()) => {
                        sim.set_faults(f);
                        ok_json(&sim.faults())
                    }
                    Err(e) => bad(e),
                },
                Err(e) => bad(format!("invalid faults: {e}")),
            }
        }
        (m @ (Method::GET | Method::POST), "/_sim/project") => {
            let Some(project) = project else {
                return bad("name the project with ?app_id=".into());
            };
            if m == Method::POST {
                let bytes = read_body(req.into_body(), MAX_BODY).await.unwrap_or_default();
                match serde_json::from_slice::<ProjectSettings>(&bytes) {
                    Ok(s) => project.with(|p| p.settings = s),
                    Err(e) => return bad(format!("invalid project settings: {e}")),
                }
            }
            ok_json(&project.with(|p| p.settings.clone()))
        }
        (Method::POST, "/_sim/clock") => {
            let bytes = read_body(req.into_body(), MAX_BODY).await.unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let Some(by) = body
                .get("advance")
                .and_then(Value::as_str)
                .and_then(|s| humantime::parse_duration(s).ok())
            else {
                return bad("body must be {\"advance\": \"10m\"}".into());
            };
            if !sim.clock().advance(by) {
                return bad("the clock is the system clock; start the simulator with --manual-clock".into());
            }
            ok_json(&json!({"now": crate::clock::iso(sim.clock().now())}))
        }
        _ => json_bytes_response(
            StatusCode::NOT_FOUND,
            br#"{"code":404,"message":"unknown simulator route"}"#.to_vec(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_decoded() {
        assert_eq!(
            segments("/v1/vouchers/A%2FB/sessions/k"),
            vec!["v1", "vouchers", "A/B", "sessions", "k"]
        );
    }
}
