//! Voucherify calls for the rest of the coupon lifecycle: loyalty cards and
//! reward redemptions, a customer's vouchers, qualifications, rollbacks.
//! Same rules as the calls beside them: one deadline per call, a connect
//! failure tried once more, nothing that writes retried blindly.

use http::{Method, StatusCode};
use percent_encoding::utf8_percent_encode;

use super::error::UpstreamError;
use super::op::Op;
use super::transport::{Project, SEGMENT, Writes, json, parse, unexpected};
use crate::voucherify::ErrorObject;
use crate::voucherify::lifecycle::{
    MemberList, QualificationRequest, QualificationResponse, Redemption, RewardInfo, RewardRedemptionRequest,
    RollbackOutcome, VoucherPage,
};

/// A write Voucherify answered: done, or refused with its error object.
#[derive(Debug)]
pub enum Written<T> {
    Done(T),
    Refused(u16, ErrorObject),
}

impl Project<'_> {
    /// `GET /v1/loyalties/{campaignId}/members?customer=`: the customer's
    /// cards in that program; a 404 comes with what was not found (the
    /// program, or the customer).
    pub async fn loyalty_cards(&self, campaign: &str, customer: &str) -> Result<Written<MemberList>, UpstreamError> {
        let op = Op::ListMembers;
        let path = format!(
            "/v1/loyalties/{}/members?customer={}",
            utf8_percent_encode(campaign, SEGMENT),
            utf8_percent_encode(customer, SEGMENT)
        );
        let a = self.call(op, Method::GET, &path, None).await?;
        match a.status.as_u16() {
            200 => parse(op, &a).map(Written::Done),
            404 => Ok(Written::Refused(
                404,
                serde_json::from_slice(&a.body).unwrap_or_default(),
            )),
            _ => Err(unexpected(op, &a)),
        }
    }

    /// `GET /v1/rewards/{id}`.
    pub async fn reward(&self, id: &str) -> Result<Option<RewardInfo>, UpstreamError> {
        let path = format!("/v1/rewards/{}", utf8_percent_encode(id, SEGMENT));
        self.get_optional(Op::GetReward, path).await
    }

    /// `GET /v1/redemptions/{id}`.
    pub async fn redemption(&self, id: &str) -> Result<Option<Redemption>, UpstreamError> {
        let path = format!("/v1/redemptions/{}", utf8_percent_encode(id, SEGMENT));
        self.get_optional(Op::GetRedemption, path).await
    }

    /// `GET /v1/vouchers?customer=&limit=&page=` (pages from 1).
    pub async fn customer_vouchers(&self, customer: &str, limit: u32, page: u32) -> Result<VoucherPage, UpstreamError> {
        let path = format!(
            "/v1/vouchers?customer={}&limit={limit}&page={page}&order=created_at",
            utf8_percent_encode(customer, SEGMENT)
        );
        Ok(self.get_optional(Op::ListVouchers, path).await?.unwrap_or_default())
    }

    /// `POST /v1/qualifications`: reads only.
    pub async fn qualify(&self, req: &QualificationRequest) -> Result<QualificationResponse, UpstreamError> {
        let op = Op::Qualify;
        let a = self
            .call(op, Method::POST, "/v1/qualifications", Some(json(op, req)?))
            .await?;
        match a.status {
            StatusCode::OK => parse(op, &a),
            _ => Err(unexpected(op, &a)),
        }
    }
}

impl Writes<'_> {
    /// `POST /v1/loyalties/{campaignId}/members/{memberId}/redemption`.
    /// Never retried once it may have been sent: the caller reconciles.
    pub async fn redeem_reward(
        &self,
        campaign: &str,
        member: &str,
        req: &RewardRedemptionRequest<'_>,
    ) -> Result<Written<Redemption>, UpstreamError> {
        let op = Op::RedeemReward;
        let path = format!(
            "/v1/loyalties/{}/members/{}/redemption",
            utf8_percent_encode(campaign, SEGMENT),
            utf8_percent_encode(member, SEGMENT)
        );
        let a = self.call(op, Method::POST, &path, Some(json(op, req)?)).await?;
        match a.status.as_u16() {
            200 => parse(op, &a).map(Written::Done),
            400..=499 => Ok(Written::Refused(
                a.status.as_u16(),
                serde_json::from_slice(&a.body).unwrap_or_default(),
            )),
            _ => Err(unexpected(op, &a)),
        }
    }

    /// `POST /v1/redemptions/{id}/rollbacks`: rolls back a stacked
    /// redemption's children through its parent, or a single redemption
    /// (Voucherify accepts both there). A second rollback is refused with
    /// `already_rolled_back`, which is what makes a retry safe.
    pub async fn rollback(&self, redemption: &str, reason: &str) -> Result<RollbackOutcome, UpstreamError> {
        let op = Op::Rollback;
        let path = format!(
            "/v1/redemptions/{}/rollbacks?reason={}",
            utf8_percent_encode(redemption, SEGMENT),
            utf8_percent_encode(reason, SEGMENT)
        );
        let a = self.call(op, Method::POST, &path, Some(b"{}".to_vec())).await?;
        match a.status.as_u16() {
            200 => Ok(RollbackOutcome::RolledBack),
            404 => Ok(RollbackOutcome::NotFound),
            400 => {
                let e: ErrorObject = serde_json::from_slice(&a.body).unwrap_or_default();
                match e.key.as_deref() {
                    Some("already_rolled_back") => Ok(RollbackOutcome::AlreadyRolledBack),
                    key => Ok(RollbackOutcome::Refused(key.unwrap_or("").to_owned())),
                }
            }
            _ => Err(unexpected(op, &a)),
        }
    }
}
