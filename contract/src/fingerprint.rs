//! [`Fingerprint`]: the SHA-256 of a contract's canonical form, shortened to 16 bytes.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Bytes of the SHA-256 kept in a fingerprint (128 bits).
const LEN: usize = 16;

/// The identity of a contract: the first 16 bytes of the SHA-256 of its canonical form
/// ([`Schema::canonical_form`](crate::Schema::canonical_form)), written as 32 lower-case hex
/// digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint([u8; LEN]);

/// A text is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a contract fingerprint (32 lower-case hex digits)")]
pub struct FingerprintError {
    /// The text given.
    pub text: String,
}

impl Fingerprint {
    /// The fingerprint of a canonical form (UTF-8 bytes hashed with SHA-256).
    pub fn of_canonical_form(canonical: &str) -> Self {
        let digest = Sha256::digest(canonical.as_bytes());
        let mut bytes = [0; LEN];
        bytes.copy_from_slice(&digest[..LEN]);
        Self(bytes)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; LEN] {
        &self.0
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = FingerprintError;

    /// Parses 32 lower-case hex digits.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || FingerprintError {
            text: text.to_owned(),
        };
        if text.len() != LEN * 2
            || !text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(error());
        }
        let mut bytes = [0; LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[i * 2..i * 2 + 2], 16).map_err(|_| error())?;
        }
        Ok(Self(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_the_sha256_prefix_in_hex_and_parses_back() {
        // sha256("") = e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
        let empty = Fingerprint::of_canonical_form("");
        assert_eq!(empty.to_string(), "e3b0c44298fc1c149afbf4c8996fb924");
        assert_eq!(empty.to_string().parse::<Fingerprint>(), Ok(empty));
        for bad in [
            "",
            "e3b0",
            "E3B0C44298FC1C149AFBF4C8996FB924",
            "g3b0c44298fc1c149afbf4c8996fb924",
        ] {
            assert!(bad.parse::<Fingerprint>().is_err(), "{bad}");
        }
    }
}
