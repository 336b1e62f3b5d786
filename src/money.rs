//! Money between the two wire formats.
//!
//! Voucherify counts money as integers in minor units (`1999` = 19.99);
//! Gameball writes major units as JSON numbers (`19.99`). The conversion is
//! decimal all the way: Gameball numbers are read from the raw JSON text
//! (serde_json's `RawValue`), held as `rust_decimal`, and written back as
//! exact decimal text, so no value ever passes through binary floating point.

use std::fmt;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::de::{self, Deserializer};
use serde::ser::{Error as _, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("is not a number")]
    NotANumber,
    #[error("must not be negative")]
    Negative,
    #[error("is too large")]
    OutOfRange,
}

/// A JSON number held as an exact decimal: an amount in major units
/// (`totalPurchaseAmount`, `discountAmount`) or a percentage. Reads a JSON
/// number or a numeric string, plain or scientific; writes the shortest exact
/// decimal (`10`, `10.5`, `19.99`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecimalNumber(pub Decimal);

impl DecimalNumber {
    pub fn parse(text: &str) -> Result<Self, MoneyError> {
        let t = text.trim();
        let d = if t.contains(['e', 'E']) {
            Decimal::from_scientific(t)
        } else {
            t.parse::<Decimal>()
        }
        .map_err(|_| MoneyError::NotANumber)?;
        Ok(DecimalNumber(d))
    }

    /// From Voucherify's minor units, for a currency with `decimals`
    /// fraction digits: `from_minor(1999, 2)` is 19.99.
    pub fn from_minor(minor: i64, decimals: u32) -> Self {
        DecimalNumber(Decimal::from_i128_with_scale(minor as i128, decimals.min(28)))
    }

    /// From a number serde_json parsed (Voucherify's `percent_off`); its
    /// text form is the shortest that round-trips, so `12.5` stays `12.5`.
    pub fn from_json(n: &serde_json::Number) -> Self {
        Self::parse(&n.to_string()).unwrap_or_default()
    }

    /// Minor units for a currency with `decimals` fraction digits. Digits
    /// beyond the currency's precision (`19.990000000000002` from a client
    /// that summed floats) are rounded half away from zero.
    pub fn to_minor(self, decimals: u32) -> Result<i64, MoneyError> {
        if self.0.is_sign_negative() && !self.0.is_zero() {
            return Err(MoneyError::Negative);
        }
        let scale = Decimal::from(10i64.checked_pow(decimals).ok_or(MoneyError::OutOfRange)?);
        let rounded = self
            .0
            .round_dp_with_strategy(decimals, RoundingStrategy::MidpointAwayFromZero);
        let minor = rounded.checked_mul(scale).ok_or(MoneyError::OutOfRange)?;
        minor.trunc().to_i64().ok_or(MoneyError::OutOfRange)
    }

    /// The shortest exact decimal text.
    pub fn to_text(self) -> String {
        self.0.normalize().to_string()
    }
}

impl fmt::Display for DecimalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl<'de> Deserialize<'de> for DecimalNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        let text = raw.get();
        let number_text = if text.starts_with('"') {
            serde_json::from_str::<String>(text).map_err(de::Error::custom)?
        } else {
            text.to_owned()
        };
        DecimalNumber::parse(&number_text)
            .map_err(|_| de::Error::invalid_value(de::Unexpected::Other(text), &"a number"))
    }
}

impl Serialize for DecimalNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RawValue::from_string(self.to_text())
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minor(text: &str, decimals: u32) -> Result<i64, MoneyError> {
        DecimalNumber::parse(text)?.to_minor(decimals)
    }

    #[test]
    fn major_to_minor_is_exact_for_decimal_fractions() {
        assert_eq!(minor("19.99", 2), Ok(1999));
        assert_eq!(minor("0.29", 2), Ok(29));
        assert_eq!(minor("1.005", 2), Ok(101));
        assert_eq!(minor("250", 2), Ok(25000));
        assert_eq!(minor("250.0", 2), Ok(25000));
        assert_eq!(minor("12.345", 3), Ok(12345));
        assert_eq!(minor("100", 0), Ok(100));
        assert_eq!(minor("1e2", 2), Ok(10000));
        assert_eq!(minor("19.990000000000002", 2), Ok(1999));
    }

    #[test]
    fn bad_amounts_are_errors_not_panics() {
        assert_eq!(minor("abc", 2), Err(MoneyError::NotANumber));
        assert_eq!(minor("-1", 2), Err(MoneyError::Negative));
        assert_eq!(minor("1e25", 2), Err(MoneyError::OutOfRange));
        assert_eq!(minor("5", 30), Err(MoneyError::OutOfRange));
    }

    #[test]
    fn minor_to_major_is_shortest_exact_text() {
        assert_eq!(DecimalNumber::from_minor(1999, 2).to_text(), "19.99");
        assert_eq!(DecimalNumber::from_minor(1000, 2).to_text(), "10");
        assert_eq!(DecimalNumber::from_minor(1050, 2).to_text(), "10.5");
        assert_eq!(DecimalNumber::from_minor(5, 3).to_text(), "0.005");
        assert_eq!(DecimalNumber::from_minor(0, 2).to_text(), "0");
        assert_eq!(DecimalNumber::from_minor(42, 0).to_text(), "42");
    }

    #[test]
    fn serializes_as_a_json_number_and_deserializes_from_number_or_string() {
        let json = serde_json::to_string(&DecimalNumber::from_minor(1999, 2)).unwrap();
        assert_eq!(json, "19.99");
        let a: DecimalNumber = serde_json::from_str("19.99").unwrap();
        let b: DecimalNumber = serde_json::from_str("\"19.99\"").unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<DecimalNumber>("true").is_err());
    }

    #[test]
    fn percentages_from_voucherify_keep_their_digits() {
        let n: serde_json::Number = serde_json::from_str("12.5").unwrap();
        assert_eq!(DecimalNumber::from_json(&n).to_text(), "12.5");
        let n: serde_json::Number = serde_json::from_str("10").unwrap();
        assert_eq!(DecimalNumber::from_json(&n).to_text(), "10");
    }

    #[test]
    fn round_trip_through_minor_preserves_the_value() {
        for text in ["0.01", "9.99", "123456.78", "0"] {
            let m = minor(text, 2).unwrap();
            assert_eq!(DecimalNumber::from_minor(m, 2), DecimalNumber::parse(text).unwrap());
        }
    }
}
