//! The simulator's HTTP surface: Voucherify's `/v1` routes (authenticated
//! with `X-App-Id` / `X-App-Token`) and operator routes under `/_sim`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::{Value, json};

use super::Simulator;
use super::engine::{ApiError, ProjectState, Query, parse_legacy, parse_stackable};
use super::faults::{Fault, Faults};
use super::model::ProjectSettings;
use super::records::CampaignKind;
use crate::net::{Body, BoxError, empty, json_bytes_response, json_response, read_body};

const MAX_BODY: usize = 1 << 20;

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST), e)
}

fn ok_json<T: Serialize>(v: &T) -> Response<Body> {
    json_response(StatusCode::OK, v)
}

fn respond(r: Result<Value, ApiError>) -> Response<Body> {
    match r {
        Ok(v) => ok_json(&v),
        Err(e) => error_response(&e),
    }
}

/// Decoded path segments after the leading slash.
fn segments(path: &str) -> Vec<String> {
    path.trim_start_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

async fn json_body(req: Request<Incoming>) -> Result<Value, ApiError> {
    let bytes = read_body(req.into_body(), MAX_BODY)
        .await
        .map_err(|e| ApiError::invalid_payload(e.to_string()))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::invalid_payload(format!("Request body is not valid JSON: {e}")))
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
        let (delay, fault, release) = sim.decide_fault(&path);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match fault {
            Fault::Ok => {}
            Fault::Hold => {
                if let Some(mut set) = release {
                    let _ = set.changed().await;
                }
            }
            Fault::LoseAnswer => lose_answer = true,
            Fault::Drop => return Err("simulated dropped connection".into()),
            Fault::Error => {
                let status = sim.faults().error_status;
                let e = ApiError::new(status, "internal_error", "Internal server error", None);
                return Ok(error_response(&e));
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
                return Ok(res);
            }
        }
    }

    let now = sim.clock().now();
    let method = req.method().clone();
    let seg = segments(&path);
    let seg: Vec<&str> = seg.iter().map(String::as_str).collect();
    let query = Query::parse(req.uri().query());
    let res = match (&method, &seg[1..]) {
        (&Method::POST, ["validations"]) => {
            let body = match json_body(req).await {
                Ok(b) => b,
                Err(e) => return Ok(error_response(&e)),
            };
            let settings = project.with(|p| p.settings.clone());
            match parse_stackable(&body, &settings) {
                Ok(parsed) => {
                    let out = project.with(|p| p.validate(&p.name_customer(parsed), now));
                    ok_json(&out)
                }
                Err(e) => error_response(&e),
            }
        }
        (&Method::POST, ["redemptions"]) => {
            let body = match json_body(req).await {
                Ok(b) => b,
                Err(e) => return Ok(error_response(&e)),
            };
            let settings = project.with(|p| p.settings.clone());
            respond(
                parse_stackable(&body, &settings)
                    .and_then(|parsed| project.with(|p| p.redeem(&p.name_customer(parsed), now))),
            )
        }
        (&Method::GET, ["redemptions", id]) => {
            let id = id.to_string();
            respond(project.with(|p| {
                if p.redemptions.contains_key(&id) {
                    Ok(p.redemption_json(&id, true))
                } else {
                    Err(ApiError::not_found("redemption", &id))
                }
            }))
        }
        (&Method::POST, ["redemptions", id, action @ ("rollback" | "rollbacks")]) => {
            let stacked = *action == "rollbacks";
            let id = id.to_string();
            let reason = query_param(req.uri().query(), "reason");
            let body = json_body(req).await.unwrap_or(Value::Null);
            let reason = reason.or_else(|| body.get("reason").and_then(Value::as_str).map(str::to_owned));
            respond(project.with(|p| p.rollback(&id, reason, stacked, now)))
        }
        (&Method::GET, ["vouchers"]) => respond(project.with(|p| p.list_vouchers(&query))),
        (&Method::POST, ["campaigns"]) => match json_body(req).await {
            Ok(body) => respond(project.with(|p| p.create_campaign(&body, None, now))),
            Err(e) => error_response(&e),
        },
        (&Method::GET, ["campaigns"]) => respond(project.with(|p| p.list_campaigns(&query, None))),
        (&Method::GET, ["campaigns", id]) => {
            let id = id.to_string();
            respond(project.with(|p| {
                let id = p.campaign_or_404(&id)?.id.clone();
                Ok(p.campaign_json(&id))
            }))
        }
        (&Method::GET, ["promotions", id, "tiers"]) => {
            let id = id.to_string();
            respond(project.with(|p| p.list_tiers(&id, &query)))
        }
        (&Method::POST, ["publications"]) => {
            let join_once = query.flag("join_once");
            match json_body(req).await {
                Ok(body) => respond(project.with(|p| p.publish(&body, join_once, now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::GET, ["publications"]) => respond(project.with(|p| p.list_publications(&query))),
        (&Method::POST, ["qualifications"]) => match json_body(req).await {
            Ok(body) => respond(project.with(|p| p.qualify(&body, now))),
            Err(e) => error_response(&e),
        },
        (&Method::POST, ["loyalties"]) => match json_body(req).await {
            Ok(body) => respond(project.with(|p| p.create_campaign(&body, Some(CampaignKind::LoyaltyProgram), now))),
            Err(e) => error_response(&e),
        },
        (&Method::GET, ["loyalties"]) => {
            respond(project.with(|p| p.list_campaigns(&query, Some(CampaignKind::LoyaltyProgram))))
        }
        (&Method::GET, ["loyalties", id]) => {
            let id = id.to_string();
            respond(project.with(|p| p.loyalty_json(&id)))
        }
        (&Method::POST, ["loyalties", id, "members"]) => {
            let id = id.to_string();
            match json_body(req).await {
                Ok(body) => respond(project.with(|p| p.add_member(&id, &body, now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::GET, ["loyalties", id, "members"]) => {
            let id = id.to_string();
            respond(project.with(|p| p.list_members(&id, &query)))
        }
        (&Method::GET, ["loyalties", "members", member]) => {
            let member = member.to_string();
            respond(project.with(|p| p.member(None, &member)))
        }
        (&Method::GET, ["loyalties", "members", member, "rewards"]) => {
            let member = member.to_string();
            respond(project.with(|p| p.member_rewards(&member, &query)))
        }
        (&Method::GET, ["loyalties", id, "members", member]) => {
            let (id, member) = (id.to_string(), member.to_string());
            respond(project.with(|p| p.member(Some(&id), &member)))
        }
        (&Method::POST, ["loyalties", "members", member, action @ ("balance" | "redemption")]) => {
            let (member, action) = (member.to_string(), *action);
            match json_body(req).await {
                Ok(body) if action == "balance" => respond(project.with(|p| p.add_points(None, &member, &body, now))),
                Ok(body) => respond(project.with(|p| p.redeem_reward(None, &member, &body, now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::POST, ["loyalties", id, "members", member, action @ ("balance" | "redemption")]) => {
            let (id, member, action) = (id.to_string(), member.to_string(), *action);
            match json_body(req).await {
                Ok(body) if action == "balance" => {
                    respond(project.with(|p| p.add_points(Some(&id), &member, &body, now)))
                }
                Ok(body) => respond(project.with(|p| p.redeem_reward(Some(&id), &member, &body, now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::GET, ["loyalties", id, "rewards"]) => {
            let id = id.to_string();
            respond(project.with(|p| p.list_assignments(None, Some(&id), &query)))
        }
        (&Method::POST, ["rewards"]) => match json_body(req).await {
            Ok(body) => respond(project.with(|p| p.create_reward(&body, now))),
            Err(e) => error_response(&e),
        },
        (&Method::GET, ["rewards"]) => respond(project.with(|p| p.list_rewards(&query))),
        (&Method::GET, ["rewards", id]) => {
            let id = id.to_string();
            respond(project.with(|p| p.reward(&id)))
        }
        (&Method::POST, ["rewards", id, "assignments"]) => {
            let id = id.to_string();
            match json_body(req).await {
                Ok(body) => respond(project.with(|p| p.assign_reward(&id, &body, now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::GET, ["rewards", id, "assignments"]) => {
            let id = id.to_string();
            respond(project.with(|p| p.list_assignments(Some(&id), None, &query)))
        }
        (&Method::POST, ["vouchers"]) => match json_body(req).await {
            Ok(body) => respond(project.with(|p| p.create_voucher(&body, now))),
            Err(e) => error_response(&e),
        },
        (&Method::GET, ["vouchers", code]) => {
            let code = code.to_string();
            respond(project.with(|p| p.voucher_response(&code)))
        }
        (&Method::PUT, ["vouchers", code]) => {
            let code = code.to_string();
            match json_body(req).await {
                Ok(body) => respond(project.with(|p| p.update_voucher(&code, &body, now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::DELETE, ["vouchers", code]) => {
            let code = code.to_string();
            if project.with(|p| p.remove_voucher(&code)) {
                no_content()
            } else {
                error_response(&ApiError::not_found("voucher", &code))
            }
        }
        (&Method::POST, ["vouchers", code, action @ ("enable" | "disable")]) => {
            let (code, active) = (code.to_string(), *action == "enable");
            respond(project.with(|p| p.set_active(&code, active, now)))
        }
        (&Method::POST, ["vouchers", code, action @ ("validate" | "redemption")]) => {
            let (code, redeem) = (code.to_string(), *action == "redemption");
            match json_body(req).await.and_then(|b| parse_legacy(&code, &b)) {
                Ok(parsed) if redeem => {
                    respond(project.with(|p| p.redeem_legacy(&code, &p.name_customer(parsed), now)))
                }
                Ok(parsed) => respond(project.with(|p| p.validate_legacy(&code, &p.name_customer(parsed), now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::DELETE, ["vouchers", code, "sessions", key]) => {
            let (code, key) = (code.to_string(), key.to_string());
            match project.with(|p| p.release_session(&code, &key, now)) {
                Ok(()) => no_content(),
                Err(e) => error_response(&e),
            }
        }
        (&Method::POST, ["validation-rules"]) => match json_body(req).await {
            Ok(body) => respond(project.with(|p| p.create_rule(&body, now))),
            Err(e) => error_response(&e),
        },
        (&Method::GET, ["validation-rules", id]) => {
            let id = id.to_string();
            respond(project.with(|p| {
                p.rules
                    .get(&id)
                    .map(|r| r.to_json())
                    .ok_or_else(|| ApiError::not_found("validation_rule", &id))
            }))
        }
        (&Method::GET, ["orders", id]) => {
            let id = id.to_string();
            respond(project.with(|p| {
                p.find_order(&id)
                    .map(|o| o.id.clone())
                    .map(|oid| p.order_json(&oid))
                    .ok_or_else(|| ApiError::not_found("order", &id))
            }))
        }
        _ => {
            let mut e = ApiError::not_found("route", &path);
            e.details = Some(format!("The simulator does not implement {method} {path}"));
            error_response(&e)
        }
    };
    if lose_answer {
        return Err("simulated lost answer".into());
    }
    Ok(res)
}

fn no_content() -> Response<Body> {
    let mut res = Response::new(empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
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

    #[test]
    fn query_params_are_found_and_decoded() {
        assert_eq!(
            query_param(Some("a=1&reason=too%20late"), "reason").as_deref(),
            Some("too late")
        );
        assert_eq!(query_param(Some("a=1"), "reason"), None);
        assert_eq!(query_param(None, "reason"), None);
    }

    #[test]
    fn engine_errors_carry_their_status() {
        let e = ApiError::not_found("voucher", "X");
        assert_eq!(error_response(&e).status(), StatusCode::NOT_FOUND);
    }
}
