//! Payloads decoded to JSON with the table's descriptors (prost-reflect, the proto3 JSON
//! mapping), or shown in hex when they do not decode.

use eventmap_codegen::service::Service;
use prost_reflect::DynamicMessage;
use serde::Serialize;

/// A payload as `show` prints it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "decoded", rename_all = "snake_case")]
pub enum Payload {
    /// Decoded as `message`: the proto3 JSON form.
    Json {
        /// Full name of the proto message.
        message: String,
        /// The message as JSON (proto3 JSON mapping: camelCase names, 64-bit integers as
        /// strings, enums by name).
        json: serde_json::Value,
    },
    /// Not decoded: the bytes in lowercase hex, and why.
    Hex {
        /// Why it did not decode (unknown event type, malformed bytes).
        reason: String,
        /// The payload, two lowercase hex digits per byte.
        hex: String,
    },
}

/// Decodes `payload`, the message of event type `ce_type`, with the descriptors of
/// `service`. Bytes that are not a message of that type (or carry fields it does not
/// declare, which is how a wrong type usually shows) come back as [`Payload::Hex`].
pub fn decode(service: &Service, ce_type: Option<&str>, payload: &[u8]) -> Payload {
    let hex = |reason: String| Payload::Hex {
        reason,
        hex: to_hex(payload),
    };
    let Some(ce_type) = ce_type else {
        return hex("the message has no ce-type header".to_owned());
    };
    let Some(descriptor) = service.message(ce_type) else {
        return hex(format!(
            "event type `{ce_type}` is not in the table `{}`",
            service.table.display()
        ));
    };
    match DynamicMessage::decode(descriptor.clone(), payload) {
        Ok(message) => {
            if message.unknown_fields().next().is_some() {
                return hex(format!(
                    "the bytes carry fields that `{}` does not declare",
                    descriptor.full_name()
                ));
            }
            match serde_json::to_value(&message) {
                Ok(json) => Payload::Json {
                    message: descriptor.full_name().to_owned(),
                    json,
                },
                Err(err) => hex(format!(
                    "cannot write `{}` as JSON: {err}",
                    descriptor.full_name()
                )),
            }
        }
        Err(err) => hex(format!("not a `{}`: {err}", descriptor.full_name())),
    }
}

/// `bytes` as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, byte| {
            let _ = write!(out, "{byte:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::to_hex;

    #[test]
    fn hex_is_lowercase_pairs() {
        assert_eq!(to_hex(&[0x00, 0xab, 0x0f]), "00ab0f");
        assert_eq!(to_hex(&[]), "");
    }
}
