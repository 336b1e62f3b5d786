//! The customer's coupons: every voucher published to the customer
//! (`GET /v1/vouchers?customer=`), page by page, in Gameball's
//! `CustomerCouponsResponse` terms. An unknown customer has none; the
//! customer's loyalty card is not a coupon and is left out.

use super::Cx;
use crate::domain::WalletCoupon;
use crate::error::Failure;
use crate::translate::lifecycle::wallet_coupon;

/// Voucherify's page size limit.
const PAGE: u32 = 100;
/// Voucherify's `page` stops at 99 (its spec bounds it), so a wallet is
/// read up to 9,900 coupons; the request's deadline bounds it anyway.
const MAX_PAGES: u32 = 99;

pub async fn coupons(cx: &Cx, customer_id: &str) -> Result<Vec<WalletCoupon>, Failure> {
    let vf = cx.vf();
    let now = cx.now();
    let mut out = Vec::new();
    let mut codes = std::collections::HashSet::new();
    let mut seen = 0u64;
    for page in 1..=MAX_PAGES {
        let listed = vf.customer_vouchers(customer_id, PAGE, page).await?;
        let n = listed.vouchers.len();
        seen += n as u64;
        for voucher in listed.vouchers.iter().filter(|v| v.is_coupon()) {
            // Oldest first, so later pages do not shift; a code is listed once
            // all the same.
            if codes.insert(voucher.code.clone()) {
                out.push(wallet_coupon(voucher, now, cx.tenant.decimals));
            }
        }
        let complete = listed.total.is_some_and(|t| seen >= t);
        if n < PAGE as usize || complete {
            return Ok(out);
        }
    }
    tracing::warn!(request_id = %cx.request_id, coupons = out.len(), "a customer's wallet was cut at {MAX_PAGES} pages");
    Ok(out)
}
