//! Money: an amount in minor units (cents) of a currency.

use std::fmt;

/// An amount of money in minor units (cents) of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Money {
    /// Amount in minor units (cents); may be negative for refunds.
    pub cents: i64,
    /// ISO 4217 currency code, e.g. `EUR`.
    pub currency: String,
}

impl Money {
    /// `cents` minor units of `currency`.
    pub fn new(cents: i64, currency: &str) -> Self {
        Money {
            cents,
            currency: currency.to_owned(),
        }
    }

    /// This amount times `quantity`, or `None` on overflow.
    pub fn times(&self, quantity: u32) -> Option<Money> {
        Some(Money {
            cents: self.cents.checked_mul(i64::from(quantity))?,
            currency: self.currency.clone(),
        })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.cents < 0 { "-" } else { "" };
        let abs = self.cents.unsigned_abs();
        write!(f, "{sign}{}.{:02} {}", abs / 100, abs % 100, self.currency)
    }
}

/// The conversion the mapping table names for money fields (`with: crate::domain::money::to_cents`):
/// the amount in minor units, as the `*_cents` proto fields carry it.
pub fn to_cents(money: &Money) -> i64 {
    money.cents
}
