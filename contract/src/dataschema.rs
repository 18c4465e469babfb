//! [`Dataschema`]: the CloudEvents `dataschema` URI naming a contract.

use std::fmt;
use std::str::FromStr;

use crate::fingerprint::Fingerprint;
use crate::schema::Schema;

/// The URI scheme of eventmap's contracts.
const SCHEME: &str = "eventmap:";

/// The CloudEvents `dataschema` of an integration event (header `ce-dataschema`):
/// `eventmap:<message full name>#<fingerprint>`, e.g.
/// `eventmap:ordering.v1.OrderReadied#0f3a...` (32 hex digits). The name says which proto
/// message the payload is; the fingerprint, which version of it exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dataschema {
    /// Full name of the proto message.
    pub message: String,
    /// The fingerprint of its contract.
    pub fingerprint: Fingerprint,
}

/// A text is not an eventmap `dataschema` URI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an eventmap dataschema (`eventmap:<message full name>#<fingerprint>`)")]
pub struct DataschemaError {
    /// The text given.
    pub text: String,
}

impl Dataschema {
    /// The dataschema of `schema`: its root message and its fingerprint.
    pub fn of(schema: &Schema) -> Self {
        Self {
            message: schema.root.clone(),
            fingerprint: schema.fingerprint(),
        }
    }
}

impl fmt::Display for Dataschema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}#{}", self.message, self.fingerprint)
    }
}

impl FromStr for Dataschema {
    type Err = DataschemaError;

    /// Parses `eventmap:<name>#<fingerprint>`; the name must be a dotted proto name.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || DataschemaError {
            text: text.to_owned(),
        };
        let rest = text.strip_prefix(SCHEME).ok_or_else(error)?;
        let (message, fingerprint) = rest.split_once('#').ok_or_else(error)?;
        let valid_name = !message.is_empty()
            && message.split('.').all(|part| {
                !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if !valid_name {
            return Err(error());
        }
        Ok(Self {
            message: message.to_owned(),
            fingerprint: fingerprint.parse().map_err(|_| error())?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_other_uris() {
        let text = "eventmap:ordering.v1.OrderReadied#e3b0c44298fc1c149afbf4c8996fb924";
        let parsed: Dataschema = text.parse().unwrap();
        assert_eq!(parsed.message, "ordering.v1.OrderReadied");
        assert_eq!(parsed.to_string(), text);
        for bad in [
            "https://example.com/schema",
            "eventmap:ordering.v1.OrderReadied",
            "eventmap:#e3b0c44298fc1c149afbf4c8996fb924",
            "eventmap:a..b#e3b0c44298fc1c149afbf4c8996fb924",
            "eventmap:a.b#xyz",
        ] {
            assert!(bad.parse::<Dataschema>().is_err(), "{bad}");
        }
    }
}
