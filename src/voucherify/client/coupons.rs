//! The coupon calls: validations (with or without a session), redemptions,
//! session releases, voucher creation, and the reads of vouchers, rules
//! and orders.

use http::{Method, StatusCode};
use percent_encoding::utf8_percent_encode;

use super::error::UpstreamError;
use super::op::Op;
use super::transport::{Answer, Project, SEGMENT, Writes, json, observe, parse, unexpected};
use crate::voucherify::{
    ErrorObject, OrderInfo, RedeemResponse, StackableRequest, ValidationResponse, ValidationRule, Voucher,
};

/// The outcome of a voucher creation that Voucherify answered.
#[derive(Debug)]
pub enum CreateOutcome {
    Created(Box<Voucher>),
    /// A 4xx (a duplicate code, a value it refuses): nothing was created.
    Refused(u16, ErrorObject),
}

impl CreateOutcome {
    /// A creation's answer (with or without a code of the caller's).
    pub(super) fn of(op: Op, a: &Answer) -> Result<CreateOutcome, UpstreamError> {
        match a.status.as_u16() {
            200 | 201 => parse(op, a).map(|v| CreateOutcome::Created(Box::new(v))),
            400..=499 => Ok(CreateOutcome::Refused(
                a.status.as_u16(),
                parse(op, a).unwrap_or_default(),
            )),
            _ => Err(unexpected(op, a)),
        }
    }
}

/// The outcome of a redemption that Voucherify answered.
#[derive(Debug)]
pub enum RedeemOutcome {
    Redeemed(RedeemResponse),
    /// A 4xx: Voucherify refused it and redeemed nothing.
    Refused(u16, ErrorObject),
}

impl Project<'_> {
    /// `GET /v1/vouchers/{code}`.
    pub async fn voucher(&self, code: &str) -> Result<Option<Voucher>, UpstreamError> {
        let path = format!("/v1/vouchers/{}", utf8_percent_encode(code, SEGMENT));
        self.get_optional(Op::GetVoucher, path).await
    }

    /// `GET /v1/validation-rules/{id}`.
    pub async fn rule(&self, id: &str) -> Result<Option<ValidationRule>, UpstreamError> {
        let path = format!("/v1/validation-rules/{}", utf8_percent_encode(id, SEGMENT));
        self.get_optional(Op::GetRule, path).await
    }

    /// `GET /v1/orders/{id}`: by Voucherify id or by the merchant's source id.
    pub async fn order(&self, id: &str) -> Result<Option<OrderInfo>, UpstreamError> {
        let path = format!("/v1/orders/{}", utf8_percent_encode(id, SEGMENT));
        self.get_optional(Op::GetOrder, path).await
    }
}

/// The calls that hold, redeem, release or create: made only through an
/// operation's effects (`crate::ops::effects`), so a dry run can withhold
/// them.
impl Writes<'_> {
    /// `POST /v1/validations`.
    pub async fn validate(&self, req: &StackableRequest) -> Result<ValidationResponse, UpstreamError> {
        let op = Op::Validate;
        let a = self
            .call(op, Method::POST, "/v1/validations", Some(json(op, req)?))
            .await?;
        match a.status {
            StatusCode::OK => {
                let r: ValidationResponse = parse(op, &a)?;
                if self.up.definitions.enabled() {
                    for list in [&r.redeemables, &r.inapplicable_redeemables, &r.skipped_redeemables] {
                        for x in list {
                            observe(self.up, &x.id, x);
                        }
                    }
                }
                Ok(r)
            }
            _ => Err(unexpected(op, &a)),
        }
    }

    /// `POST /v1/redemptions`. Never retried after the request may have
    /// been sent; see the module comment.
    pub async fn redeem(&self, req: &StackableRequest) -> Result<RedeemOutcome, UpstreamError> {
        let op = Op::Redeem;
        let a = self
            .call(op, Method::POST, "/v1/redemptions", Some(json(op, req)?))
            .await?;
        let outcome = match a.status.as_u16() {
            200 => parse(op, &a).map(RedeemOutcome::Redeemed),
            400..=499 => Ok(RedeemOutcome::Refused(
                a.status.as_u16(),
                parse(op, &a).unwrap_or_default(),
            )),
            _ => Err(unexpected(op, &a)),
        };
        if self.up.definitions.enabled() {
            match &outcome {
                // What was not redeemed is in the answer; the rest was
                // applicable.
                Ok(RedeemOutcome::Redeemed(r)) => {
                    for x in &req.redeemables {
                        match r.inapplicable_redeemables.iter().find(|i| i.id == x.id) {
                            Some(i) => observe(self.up, &x.id, i),
                            None => self.up.definitions.observe(&x.id, "APPLICABLE", ""),
                        }
                    }
                }
                // A refusal does not say which coupon changed.
                Ok(RedeemOutcome::Refused(..)) => {
                    for x in &req.redeemables {
                        self.up.definitions.forget(&x.id);
                    }
                }
                Err(_) => {}
            }
        }
        outcome
    }

    /// `POST /v1/vouchers`. Not retried once it may have been sent: a
    /// second try of a generated code would create a second coupon.
    pub async fn create_voucher(&self, body: &serde_json::Value) -> Result<CreateOutcome, UpstreamError> {
        let op = Op::CreateVoucher;
        let a = self
            .call(op, Method::POST, "/v1/vouchers", Some(json(op, body)?))
            .await?;
        CreateOutcome::of(op, &a)
    }

    /// `DELETE /v1/vouchers/{code}/sessions/{key}`: `true` when released,
    /// `false` when Voucherify no longer knows the session (already
    /// released, consumed or expired), which is as good.
    pub async fn release(&self, code: &str, key: &str) -> Result<bool, UpstreamError> {
        let path = format!(
            "/v1/vouchers/{}/sessions/{}",
            utf8_percent_encode(code, SEGMENT),
            utf8_percent_encode(key, SEGMENT)
        );
        let a = self.call(Op::Release, Method::DELETE, &path, None).await?;
        match a.status.as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            _ => Err(unexpected(Op::Release, &a)),
        }
    }
}
