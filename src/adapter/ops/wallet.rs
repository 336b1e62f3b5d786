//! The customer's coupons: every voucher published to the customer
//! (`GET /v1/vouchers?customer=`), page by page, in Gameball's
//! `CustomerCouponsResponse` terms. An unknown customer has none.

use crate::adapter::Ctx;
use crate::adapter::error::Failure;
use crate::adapter::ops::WalletCoupon;
use crate::translate::lifecycle::wallet_coupon;

/// Voucherify's page size limit.
const PAGE: u32 = 100;
/// Voucherify's `page` stops at 99 (its spec bounds it), so a wallet is
/// read up to 9,900 coupons; the request's deadline bounds it anyway.
const MAX_PAGES: u32 = 99;

pub async fn coupons(ctx: &Ctx, customer_id: &str) -> Result<Vec<WalletCoupon>, Failure> {
    let v = &ctx.app.voucherify;
    let up = &ctx.tenant.upstream;
    let now = ctx.now();
    let mut out = Vec::new();
    for page in 1..=MAX_PAGES {
        let listed = v.customer_vouchers(up, customer_id, PAGE, page, ctx.call()).await?;
        let n = listed.vouchers.len();
        out.extend(
            listed
                .vouchers
                .iter()
                .map(|voucher| wallet_coupon(voucher, now, ctx.tenant.decimals)),
        );
        let complete = listed.total.is_some_and(|t| out.len() as u64 >= t);
        if n < PAGE as usize || complete {
            return Ok(out);
        }
    }
    tracing::warn!(request_id = %ctx.request_id, coupons = out.len(), "a customer's wallet was cut at {MAX_PAGES} pages");
    Ok(out)
}
