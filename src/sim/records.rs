//! The records of the coupon lifecycle beyond single vouchers: campaigns
//! (discount coupons, promotions, loyalty programs), promotion tiers,
//! rewards and their assignments, and publications. Their wire form is
//! built in `engine::campaigns` and `engine::loyalty`.

use serde_json::{Map, Value};

use super::model::Discount;
use crate::clock::Millis;

/// Voucherify's `campaign_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignKind {
    DiscountCoupons,
    GiftVouchers,
    Promotion,
    LoyaltyProgram,
}

impl CampaignKind {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "DISCOUNT_COUPONS" => CampaignKind::DiscountCoupons,
            "GIFT_VOUCHERS" => CampaignKind::GiftVouchers,
            "PROMOTION" => CampaignKind::Promotion,
            "LOYALTY_PROGRAM" => CampaignKind::LoyaltyProgram,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CampaignKind::DiscountCoupons => "DISCOUNT_COUPONS",
            CampaignKind::GiftVouchers => "GIFT_VOUCHERS",
            CampaignKind::Promotion => "PROMOTION",
            CampaignKind::LoyaltyProgram => "LOYALTY_PROGRAM",
        }
    }
}

/// How a campaign's codes are generated: Voucherify's `CodeConfig`.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeConfig {
    pub length: usize,
    pub charset: String,
    pub prefix: String,
    pub postfix: String,
    /// `#` is replaced by a random character of `charset`; when set it
    /// decides the length.
    pub pattern: Option<String>,
}

/// Voucherify's default charset ("Alphanumeric").
pub const ALPHANUMERIC: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

impl Default for CodeConfig {
    fn default() -> Self {
        CodeConfig {
            length: 8,
            charset: ALPHANUMERIC.to_owned(),
            prefix: String::new(),
            postfix: String::new(),
            pattern: None,
        }
    }
}

impl CodeConfig {
    /// One random code (uniqueness is the caller's concern).
    pub fn generate(&self) -> String {
        use rand::Rng;
        let chars: Vec<char> = self.charset.chars().collect();
        let mut rng = rand::rng();
        let mut pick = || chars[rng.random_range(0..chars.len())];
        let body: String = match &self.pattern {
            Some(p) => p.chars().map(|c| if c == '#' { pick() } else { c }).collect(),
            None => (0..self.length).map(|_| pick()).collect(),
        };
        format!("{}{body}{}", self.prefix, self.postfix)
    }

    /// How many distinct codes this configuration can make.
    pub fn capacity(&self) -> f64 {
        let slots = match &self.pattern {
            Some(p) => p.chars().filter(|c| *c == '#').count(),
            None => self.length,
        };
        (self.charset.chars().count() as f64).powi(slots as i32)
    }
}

#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: CampaignKind,
    /// `AUTO_UPDATE` (codes made on demand) or `STATIC`.
    pub mode: &'static str,
    /// The template every code of the campaign copies: `type`, `discount`,
    /// `gift`, `loyalty_card`, `redemption` as the create request gave them.
    pub voucher: Option<Map<String, Value>>,
    pub code_config: CodeConfig,
    pub join_once: bool,
    pub auto_join: bool,
    pub active: bool,
    pub start_date: Option<Millis>,
    pub expiration_date: Option<Millis>,
    pub category: Option<String>,
    pub metadata: Map<String, Value>,
    /// Validation rule ids every code (or tier) of the campaign inherits.
    pub rules: Vec<String>,
    /// Promotion tier ids, in hierarchy order.
    pub tiers: Vec<String>,
    pub vouchers_count: i64,
    /// `activity_duration_after_publishing` as given, and in milliseconds:
    /// a published code expires that long after its publication.
    pub active_after_publishing: Option<(String, i64)>,
    pub created_at: Millis,
    pub updated_at: Option<Millis>,
}

/// An ISO 8601 duration of weeks, days, hours, minutes and seconds
/// (`P24D`, `PT12H`, `P1DT30M`) in milliseconds; years and months, whose
/// length varies, are refused.
pub fn parse_duration(s: &str) -> Option<i64> {
    let rest = s.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total: i64 = 0;
    for (part, units) in [
        (date, &[('W', 604_800_000i64), ('D', 86_400_000)][..]),
        (time, &[('H', 3_600_000), ('M', 60_000), ('S', 1_000)][..]),
    ] {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let (_, per) = units.iter().find(|(u, _)| *u == c)?;
            total = total.checked_add(number.parse::<i64>().ok()?.checked_mul(*per)?)?;
            number.clear();
        }
        if !number.is_empty() {
            return None;
        }
    }
    (total > 0).then_some(total)
}

/// A tier of a PROMOTION campaign (`promo_…`), applied without a code.
#[derive(Debug, Clone)]
pub struct PromotionTier {
    pub id: String,
    pub campaign_id: String,
    pub name: String,
    pub banner: Option<String>,
    pub discount: Discount,
    pub rules: Vec<String>,
    pub active: bool,
    pub start_date: Option<Millis>,
    pub expiration_date: Option<Millis>,
    pub metadata: Map<String, Value>,
    pub hierarchy: i64,
    pub redeemed_quantity: i64,
    pub created_at: Millis,
    pub updated_at: Option<Millis>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RewardKind {
    /// Publishes a code of a DISCOUNT_COUPONS (or GIFT_VOUCHERS) campaign,
    /// or adds `balance` points to a card of a LOYALTY_PROGRAM.
    Campaign { campaign_id: String, balance: Option<i64> },
    /// Pay with points.
    Coin { exchange_ratio: f64, points_ratio: i64 },
    Material {
        product_id: Option<String>,
        sku_id: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Reward {
    pub id: String,
    pub name: String,
    pub kind: RewardKind,
    pub stock: Option<i64>,
    pub redeemed: i64,
    pub metadata: Map<String, Value>,
    pub created_at: Millis,
    pub updated_at: Option<Millis>,
}

/// A reward made available in a loyalty campaign at a price in points.
#[derive(Debug, Clone)]
pub struct RewardAssignment {
    pub id: String,
    pub reward_id: String,
    pub campaign_id: String,
    pub points: i64,
    pub created_at: Millis,
    pub updated_at: Option<Millis>,
}

/// A code handed to a customer (`pub_…`).
#[derive(Debug, Clone)]
pub struct Publication {
    pub id: String,
    pub created_at: Millis,
    pub customer_id: String,
    pub customer_source_id: String,
    pub voucher_code: String,
    pub campaign: Option<String>,
    pub channel: String,
    pub source_id: Option<String>,
    pub metadata: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_config() {
        let c = CodeConfig {
            length: 5,
            charset: "XY".into(),
            prefix: "A-".into(),
            postfix: "-Z".into(),
            pattern: None,
        };
        let code = c.generate();
        assert_eq!(code.len(), 9);
        assert!(code.starts_with("A-") && code.ends_with("-Z"));
        assert!(code[2..7].chars().all(|ch| ch == 'X' || ch == 'Y'));
        assert_eq!(c.capacity(), 32.0);
        let p = CodeConfig {
            pattern: Some("GB-##-##".into()),
            charset: "0123456789".into(),
            ..CodeConfig::default()
        };
        let code = p.generate();
        assert_eq!(code.len(), 8);
        assert!(code.starts_with("GB-") && &code[5..6] == "-");
        assert_eq!(p.capacity(), 10_000.0);
        assert_eq!(CodeConfig::default().generate().len(), 8);
    }

    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(parse_duration("P24D"), Some(24 * 86_400_000));
        assert_eq!(parse_duration("PT12H"), Some(12 * 3_600_000));
        assert_eq!(parse_duration("P1DT30M"), Some(86_400_000 + 30 * 60_000));
        assert_eq!(parse_duration("P2W"), Some(14 * 86_400_000));
        for bad in ["24D", "P1Y", "P1M", "P", "PT", "P1", "P0D"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }
}
