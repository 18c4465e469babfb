//! Identifier types of the ordering domain, and how they convert into proto strings.

use std::fmt;

use eventmap::convert::{ConversionError, IntoProto};

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Wraps an id.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl IntoProto<String> for $name {
            fn into_proto(&self) -> Result<String, ConversionError> {
                Ok(self.0.clone())
            }
        }
    };
}

string_id!(
    /// Identifies a customer (owned by the customers service).
    CustomerId
);
string_id!(
    /// Identifies a payment (owned by the payments service).
    PaymentId
);
string_id!(
    /// Identifies a product of the catalog.
    ProductId
);
string_id!(
    /// Identifies a store.
    StoreId
);
string_id!(
    /// Identifies an invoice issued when an order completes.
    InvoiceId
);
