//! The payments service (`fixtures/corpus/payments/`): a proto2 contract.

/// The prost types of `fixtures/corpus/payments/proto`.
#[allow(missing_docs, clippy::all)]
pub mod proto {
    include!(concat!(env!("OUT_DIR"), "/corpus_payments_protos.rs"));
}

/// The code generated from `fixtures/corpus/payments/mappings.yaml`.
pub mod integration {
    include!(concat!(env!("OUT_DIR"), "/corpus_payments_integration.rs"));
}

/// The payments domain model (ported from a Go service: amounts are unsigned, counters `i64`).
pub mod domain {
    use eventmap::convert::{ConversionError, IntoProto};

    /// An order's id, as the ordering service gives it.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OrderId(pub String);

    impl IntoProto<String> for OrderId {
        fn into_proto(&self) -> Result<String, ConversionError> {
            Ok(self.0.clone())
        }
    }

    /// An amount in minor units of a currency.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct Money {
        /// Minor units (cents); never negative in this domain.
        pub minor_units: u64,
        /// ISO 4217 code.
        pub currency: String,
    }

    impl Money {
        /// `minor_units` of `currency`.
        pub fn new(minor_units: u64, currency: &str) -> Self {
            Self {
                minor_units,
                currency: currency.to_owned(),
            }
        }
    }

    /// How the customer paid.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum PaymentMethod {
        /// A card; the domain keeps the network, the contract does not.
        Card {
            /// `visa`, `mastercard`, ...
            network: String,
        },
        /// A SEPA direct debit.
        SepaDebit,
        /// A wallet (the provider's name).
        Wallet(String),
    }

    /// Why money went back to the customer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum RefundReason {
        /// The customer asked for it.
        CustomerRequest,
        /// The payment was fraudulent.
        Fraud,
        /// The customer paid twice.
        Duplicate,
    }

    /// The issuer authorized a payment.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct PaymentAuthorized {
        /// The order paid for.
        pub order_id: OrderId,
        /// The amount authorized.
        pub amount: Money,
        /// How it is paid.
        pub method: PaymentMethod,
        /// The card's last four digits, when paid by card.
        pub card_last4: Option<String>,
        /// The number of instalments (Go `int`, so `i64` here).
        pub installments: i64,
    }

    /// Money was taken from the customer.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct PaymentCaptured {
        /// The amount captured.
        pub captured: Money,
        /// The provider's fee, in the same currency.
        pub fee_minor_units: i64,
        /// The merchant reference old consumers still read.
        pub merchant_reference: String,
    }

    /// Money went back to the customer.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct PaymentRefunded {
        /// The amount refunded.
        pub refunded: Money,
        /// Why, when known.
        pub reason: Option<RefundReason>,
    }

    /// An authorization lapsed without capture; stays inside the service.
    #[derive(Debug, Clone, PartialEq, eventmap::DomainEvent)]
    pub struct PaymentExpired {
        /// Hours the authorization was held.
        pub held_hours: u32,
    }
}
