//! Every Voucherify call couponbridge makes, by name: the `op` label of the
//! call's span and metrics, and the call a failure names.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Validate,
    Redeem,
    Release,
    GetVoucher,
    GetRule,
    GetOrder,
    CreateVoucher,
    ListMembers,
    GetReward,
    RedeemReward,
    GetRedemption,
    ListVouchers,
    Qualify,
    Rollback,
    CreateVoucherWithCode,
    ListPublications,
    Publish,
}

impl Op {
    /// The call's name in a failure's chain: `voucherify.validate`.
    pub fn call_name(self) -> &'static str {
        match self {
            Op::Validate => "voucherify.validate",
            Op::Redeem => "voucherify.redeem",
            Op::Release => "voucherify.release",
            Op::GetVoucher => "voucherify.get_voucher",
            Op::GetRule => "voucherify.get_rule",
            Op::GetOrder => "voucherify.get_order",
            Op::CreateVoucher => "voucherify.create_voucher",
            Op::ListMembers => "voucherify.list_members",
            Op::GetReward => "voucherify.get_reward",
            Op::RedeemReward => "voucherify.redeem_reward",
            Op::GetRedemption => "voucherify.get_redemption",
            Op::ListVouchers => "voucherify.list_vouchers",
            Op::Qualify => "voucherify.qualify",
            Op::Rollback => "voucherify.rollback",
            Op::CreateVoucherWithCode => "voucherify.create_voucher_with_code",
            Op::ListPublications => "voucherify.list_publications",
            Op::Publish => "voucherify.publish",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Validate => "validate",
            Op::Redeem => "redeem",
            Op::Release => "release",
            Op::GetVoucher => "get_voucher",
            Op::GetRule => "get_rule",
            Op::GetOrder => "get_order",
            Op::CreateVoucher => "create_voucher",
            Op::ListMembers => "list_members",
            Op::GetReward => "get_reward",
            Op::RedeemReward => "redeem_reward",
            Op::GetRedemption => "get_redemption",
            Op::ListVouchers => "list_vouchers",
            Op::Qualify => "qualify",
            Op::Rollback => "rollback",
            Op::CreateVoucherWithCode => "create_voucher_with_code",
            Op::ListPublications => "list_publications",
            Op::Publish => "publish",
        }
    }
}
