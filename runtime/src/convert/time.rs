//! [`IntoProto`] impls of `SystemTime` and `std::time::Duration` into the protobuf
//! well-known types, range-checked.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost_types::Timestamp;

use super::{ConversionError, IntoProto};

// ---------------------------------------------------------------------------------------------
// Time

/// Seconds of 0001-01-01T00:00:00Z, the lower bound of `google.protobuf.Timestamp`.
const TIMESTAMP_MIN_SECONDS: i64 = -62_135_596_800;
/// Seconds of 9999-12-31T23:59:59Z, the upper bound of `google.protobuf.Timestamp`.
const TIMESTAMP_MAX_SECONDS: i64 = 253_402_300_799;
/// Bound of `google.protobuf.Duration` seconds (about 10,000 years).
const DURATION_MAX_SECONDS: u64 = 315_576_000_000;

/// Converts a `SystemTime` into a normalized protobuf `Timestamp` (nanos in `0..1e9`, also
/// before the epoch) without panicking; `None` outside the protobuf range.
pub(crate) fn timestamp_from(time: SystemTime) -> Option<Timestamp> {
    let (seconds, nanos) = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => (
            i64::try_from(after.as_secs()).ok()?,
            i32::try_from(after.subsec_nanos()).ok()?,
        ),
        Err(before) => {
            let before = before.duration();
            let seconds = i64::try_from(before.as_secs()).ok()?;
            let nanos = i32::try_from(before.subsec_nanos()).ok()?;
            if nanos == 0 {
                (seconds.checked_neg()?, 0)
            } else {
                (
                    seconds.checked_neg()?.checked_sub(1)?,
                    1_000_000_000 - nanos,
                )
            }
        }
    };
    (TIMESTAMP_MIN_SECONDS..=TIMESTAMP_MAX_SECONDS)
        .contains(&seconds)
        .then_some(Timestamp { seconds, nanos })
}

impl IntoProto<Timestamp> for SystemTime {
    #[inline]
    fn into_proto(&self) -> Result<Timestamp, ConversionError> {
        timestamp_from(*self).ok_or_else(|| {
            ConversionError::new(format!(
                "time {self:?} is outside the range of google.protobuf.Timestamp \
                 (0001-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999999999Z)"
            ))
        })
    }
}

impl IntoProto<Option<Timestamp>> for SystemTime {
    #[inline]
    fn into_proto(&self) -> Result<Option<Timestamp>, ConversionError> {
        IntoProto::<Timestamp>::into_proto(self).map(Some)
    }
}

impl IntoProto<prost_types::Duration> for Duration {
    #[inline]
    fn into_proto(&self) -> Result<prost_types::Duration, ConversionError> {
        let seconds = self.as_secs();
        if seconds > DURATION_MAX_SECONDS {
            return Err(ConversionError::new(format!(
                "duration {self:?} exceeds the range of google.protobuf.Duration \
                 ({DURATION_MAX_SECONDS} s)"
            )));
        }
        // Both casts are in range: seconds <= 315_576_000_000 and nanos < 1e9.
        Ok(prost_types::Duration {
            seconds: seconds as i64,
            nanos: self.subsec_nanos() as i32,
        })
    }
}

impl IntoProto<Option<prost_types::Duration>> for Duration {
    #[inline]
    fn into_proto(&self) -> Result<Option<prost_types::Duration>, ConversionError> {
        IntoProto::<prost_types::Duration>::into_proto(self).map(Some)
    }
}
