//! Voucherify's `/v1` routes, by resource: each group answers the
//! requests it knows and leaves the rest (`None`) to the next. The request
//! body is read once, before routing, and parsed only by the routes that
//! take one.

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::Value;

use super::Project;
use super::engine::{ApiError, ProjectState, Query, parse_legacy, parse_stackable};
use super::records::CampaignKind;
use crate::clock::Millis;
use crate::net::{Body, empty, json_response};

pub(super) fn error_response(e: &ApiError) -> Response<Body> {
    json_response(StatusCode::from_u16(e.code).unwrap_or(StatusCode::BAD_REQUEST), e)
}

pub(super) fn ok_json<T: Serialize>(v: &T) -> Response<Body> {
    json_response(StatusCode::OK, v)
}

fn respond(r: Result<Value, ApiError>) -> Response<Body> {
    match r {
        Ok(v) => ok_json(&v),
        Err(e) => error_response(&e),
    }
}

fn no_content() -> Response<Body> {
    let mut res = Response::new(empty());
    *res.status_mut() = StatusCode::NO_CONTENT;
    res
}

/// One authenticated `/v1` request, its body already read.
pub(super) struct V1Request {
    pub project: Arc<Project>,
    pub method: Method,
    pub query: Query,
    pub raw_query: Option<String>,
    pub now: Millis,
    /// The body, or why it could not be read.
    pub body: Result<Bytes, String>,
}

impl V1Request {
    /// The body as JSON; an empty body is `null`.
    fn json(&self) -> Result<Value, ApiError> {
        let bytes = self.body.as_ref().map_err(|e| ApiError::invalid_payload(e.clone()))?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Null);
        }
        serde_json::from_slice(bytes)
            .map_err(|e| ApiError::invalid_payload(format!("Request body is not valid JSON: {e}")))
    }

    fn with<R>(&self, f: impl FnOnce(&mut ProjectState) -> R) -> R {
        self.project.with(f)
    }

    /// Runs `f` on the JSON body, or answers why there is none.
    fn with_body(&self, f: impl FnOnce(&mut ProjectState, &Value) -> Result<Value, ApiError>) -> Response<Body> {
        match self.json() {
            Ok(body) => respond(self.with(|p| f(p, &body))),
            Err(e) => error_response(&e),
        }
    }
}

/// Answers `req` for the path segments after `/v1`.
pub(super) fn route(req: &V1Request, seg: &[&str], path: &str) -> Response<Body> {
    let answer = stackable(req, seg)
        .or_else(|| vouchers(req, seg))
        .or_else(|| distribution(req, seg))
        .or_else(|| loyalties(req, seg))
        .or_else(|| rewards(req, seg))
        .or_else(|| definitions(req, seg));
    answer.unwrap_or_else(|| {
        let mut e = ApiError::not_found("route", path);
        e.details = Some(format!("The simulator does not implement {} {path}", req.method));
        error_response(&e)
    })
}

/// Validations, redemptions and their rollbacks.
fn stackable(req: &V1Request, seg: &[&str]) -> Option<Response<Body>> {
    let now = req.now;
    Some(match (&req.method, seg) {
        (&Method::POST, ["validations"]) => {
            let settings = req.with(|p| p.settings.clone());
            match req.json().and_then(|b| parse_stackable(&b, &settings)) {
                Ok(parsed) => ok_json(&req.with(|p| p.validate(&p.name_customer(parsed), now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::POST, ["redemptions"]) => {
            let settings = req.with(|p| p.settings.clone());
            respond(
                req.json()
                    .and_then(|b| parse_stackable(&b, &settings))
                    .and_then(|parsed| req.with(|p| p.redeem(&p.name_customer(parsed), now))),
            )
        }
        (&Method::GET, ["redemptions", id]) => respond(req.with(|p| {
            if p.redemptions.contains_key(*id) {
                Ok(p.redemption_json(id, true))
            } else {
                Err(ApiError::not_found("redemption", id))
            }
        })),
        (&Method::POST, ["redemptions", id, action @ ("rollback" | "rollbacks")]) => {
            let stacked = *action == "rollbacks";
            // The reason may come in the query or in the body; a body that
            // is not JSON is no reason to refuse a rollback.
            let reason = query_param(req.raw_query.as_deref(), "reason").or_else(|| {
                req.json()
                    .ok()
                    .and_then(|b| b.get("reason").and_then(Value::as_str).map(str::to_owned))
            });
            respond(req.with(|p| p.rollback(id, reason, stacked, now)))
        }
        _ => return None,
    })
}

fn vouchers(req: &V1Request, seg: &[&str]) -> Option<Response<Body>> {
    let now = req.now;
    Some(match (&req.method, seg) {
        (&Method::GET, ["vouchers"]) => respond(req.with(|p| p.list_vouchers(&req.query))),
        (&Method::POST, ["vouchers"]) => req.with_body(|p, body| p.create_voucher(body, now)),
        (&Method::POST, ["vouchers", code]) => req.with_body(|p, body| p.create_voucher_with_code(code, body, now)),
        (&Method::GET, ["vouchers", code]) => respond(req.with(|p| p.voucher_response(code))),
        (&Method::PUT, ["vouchers", code]) => req.with_body(|p, body| p.update_voucher(code, body, now)),
        (&Method::DELETE, ["vouchers", code]) => {
            if req.with(|p| p.remove_voucher(code)) {
                no_content()
            } else {
                error_response(&ApiError::not_found("voucher", code))
            }
        }
        (&Method::POST, ["vouchers", code, action @ ("enable" | "disable")]) => {
            let active = *action == "enable";
            respond(req.with(|p| p.set_active(code, active, now)))
        }
        (&Method::POST, ["vouchers", code, action @ ("validate" | "redemption")]) => {
            match req.json().and_then(|b| parse_legacy(code, &b)) {
                Ok(parsed) if *action == "redemption" => {
                    respond(req.with(|p| p.redeem_legacy(code, &p.name_customer(parsed), now)))
                }
                Ok(parsed) => respond(req.with(|p| p.validate_legacy(code, &p.name_customer(parsed), now))),
                Err(e) => error_response(&e),
            }
        }
        (&Method::DELETE, ["vouchers", code, "sessions", key]) => {
            match req.with(|p| p.release_session(code, key, now)) {
                Ok(()) => no_content(),
                Err(e) => error_response(&e),
            }
        }
        _ => return None,
    })
}

/// Campaigns, promotion tiers, publications and qualifications.
fn distribution(req: &V1Request, seg: &[&str]) -> Option<Response<Body>> {
    let (now, query) = (req.now, &req.query);
    Some(match (&req.method, seg) {
        (&Method::POST, ["campaigns"]) => req.with_body(|p, body| p.create_campaign(body, None, now)),
        (&Method::GET, ["campaigns"]) => respond(req.with(|p| p.list_campaigns(query, None))),
        (&Method::GET, ["campaigns", id]) => respond(req.with(|p| {
            let id = p.campaign_or_404(id)?.id.clone();
            Ok(p.campaign_json(&id))
        })),
        (&Method::GET, ["promotions", id, "tiers"]) => respond(req.with(|p| p.list_tiers(id, query))),
        (&Method::POST, ["publications"]) => {
            let join_once = query.flag("join_once");
            req.with_body(|p, body| p.publish(body, join_once, now))
        }
        (&Method::GET, ["publications"]) => respond(req.with(|p| p.list_publications(query))),
        (&Method::POST, ["qualifications"]) => req.with_body(|p, body| p.qualify(body, now)),
        _ => return None,
    })
}

/// Loyalty programs, their members (by program or by card alone), and
/// the rewards assigned to a program.
fn loyalties(req: &V1Request, seg: &[&str]) -> Option<Response<Body>> {
    let (now, query) = (req.now, &req.query);
    let program = Some(CampaignKind::LoyaltyProgram);
    Some(match (&req.method, seg) {
        (&Method::POST, ["loyalties"]) => req.with_body(|p, body| p.create_campaign(body, program, now)),
        (&Method::GET, ["loyalties"]) => respond(req.with(|p| p.list_campaigns(query, program))),
        (&Method::GET, ["loyalties", id]) => respond(req.with(|p| p.loyalty_json(id))),
        (&Method::POST, ["loyalties", id, "members"]) => req.with_body(|p, body| p.add_member(id, body, now)),
        (&Method::GET, ["loyalties", id, "members"]) => respond(req.with(|p| p.list_members(id, query))),
        (&Method::GET, ["loyalties", "members", member]) => respond(req.with(|p| p.member(None, member))),
        (&Method::GET, ["loyalties", "members", member, "rewards"]) => {
            respond(req.with(|p| p.member_rewards(member, query)))
        }
        (&Method::GET, ["loyalties", id, "members", member]) => respond(req.with(|p| p.member(Some(id), member))),
        (&Method::POST, ["loyalties", "members", member, action @ ("balance" | "redemption")]) => {
            member_write(req, None, member, action)
        }
        (&Method::POST, ["loyalties", id, "members", member, action @ ("balance" | "redemption")]) => {
            member_write(req, Some(id), member, action)
        }
        (&Method::GET, ["loyalties", id, "rewards"]) => {
            respond(req.with(|p| p.list_assignments(None, Some(id), query)))
        }
        (&Method::POST, ["loyalties", id, "rewards"]) => {
            req.with_body(|p, body| p.assign_rewards_to_program(id, body, now))
        }
        _ => return None,
    })
}

/// Points added to a card, or a reward paid for with them; `program` when
/// the path names the loyalty program too.
fn member_write(req: &V1Request, program: Option<&str>, member: &str, action: &str) -> Response<Body> {
    let now = req.now;
    if action == "balance" {
        req.with_body(|p, body| p.add_points(program, member, body, now))
    } else {
        req.with_body(|p, body| p.redeem_reward(program, member, body, now))
    }
}

fn rewards(req: &V1Request, seg: &[&str]) -> Option<Response<Body>> {
    let (now, query) = (req.now, &req.query);
    Some(match (&req.method, seg) {
        (&Method::POST, ["rewards"]) => req.with_body(|p, body| p.create_reward(body, now)),
        (&Method::GET, ["rewards"]) => respond(req.with(|p| p.list_rewards(query))),
        (&Method::GET, ["rewards", id]) => respond(req.with(|p| p.reward(id))),
        (&Method::POST, ["rewards", id, "assignments"]) => req.with_body(|p, body| p.assign_reward(id, body, now)),
        (&Method::GET, ["rewards", id, "assignments"]) => {
            respond(req.with(|p| p.list_assignments(Some(id), None, query)))
        }
        _ => return None,
    })
}

/// Validation rules and orders.
fn definitions(req: &V1Request, seg: &[&str]) -> Option<Response<Body>> {
    let now = req.now;
    Some(match (&req.method, seg) {
        (&Method::POST, ["validation-rules"]) => req.with_body(|p, body| p.create_rule(body, now)),
        (&Method::GET, ["validation-rules", id]) => respond(req.with(|p| {
            p.rules
                .get(*id)
                .map(|r| r.to_json())
                .ok_or_else(|| ApiError::not_found("validation_rule", id))
        })),
        (&Method::GET, ["orders", id]) => respond(req.with(|p| {
            p.find_order(id)
                .map(|o| o.id.clone())
                .map(|oid| p.order_json(&oid))
                .ok_or_else(|| ApiError::not_found("order", id))
        })),
        _ => return None,
    })
}

pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| percent_decode_str(v).decode_utf8_lossy().into_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
