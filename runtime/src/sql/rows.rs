//! Domain events and outbox messages as rows, the same for every SQL backend: the checks and
//! encoding before an append ([`event_rows`], [`outbox_rows`]) and the decoding of a stored
//! event ([`decode_event`]). The backends only bind these values to their own statements.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use super::registry::{EventRegistry, StoredPayload};
use super::{Error, collect};
use crate::dispatcher::Dispatch;
use crate::event::{AggregateEvent, Event, Metadata};
use crate::message::{IntegrationMessage, headers};
use crate::store::{Aggregate, StoreError};

/// A stored event with its position in the store (append order over all aggregates).
#[derive(Debug, Clone)]
pub struct RecordedEvent {
    /// Position in the `eventmap_events` table (1-based, increasing in append order; on
    /// Postgres a transaction that commits late may leave a smaller position behind a larger
    /// one, on SQLite, whose writers are serialised, positions are in commit order).
    pub position: u64,
    /// The event, decoded (and upcast) through the store's [`EventRegistry`].
    pub event: AggregateEvent,
}

/// One domain event, checked and encoded for the events table.
#[derive(Debug)]
pub(crate) struct EventRow {
    pub(crate) event_id: Uuid,
    pub(crate) version: i64,
    pub(crate) name: String,
    pub(crate) schema_version: i32,
    /// The payload's JSON.
    pub(crate) payload: String,
    /// The metadata's JSON (a string map).
    pub(crate) metadata: String,
    pub(crate) occurred_at_ns: i64,
}

/// The pending `events` of aggregate `aggregate`/`id` stored at version `expected`, checked
/// (each is that aggregate's, versions `expected + 1` on) and encoded through `registry`.
/// Returns the rows and the new version.
///
/// # Errors
///
/// [`Error::InvalidEvent`] (another aggregate's event, a version out of sequence, an
/// unrepresentable version, time or metadata) or [`Error::Registry`].
pub(crate) fn event_rows(
    registry: &EventRegistry,
    aggregate: &str,
    id: &str,
    expected: u64,
    events: &[AggregateEvent],
) -> Result<(Vec<EventRow>, i64), Error> {
    let invalid = |reason: String| Error::InvalidEvent {
        aggregate: aggregate.to_owned(),
        id: id.to_owned(),
        reason,
    };
    let mut rows = Vec::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        let version = expected + index as u64 + 1;
        if event.aggregate_id() != id
            || event.aggregate_name() != aggregate
            || event.aggregate_version() != version
        {
            return Err(invalid(format!(
                "pending event {} is {} `{}` version {}, expected {aggregate} `{id}` version {version}",
                event.id(),
                event.aggregate_name(),
                event.aggregate_id(),
                event.aggregate_version()
            )));
        }
        let stored = registry.encode(event.name(), event.payload())?;
        rows.push(EventRow {
            event_id: event.id(),
            version: i64::try_from(version).map_err(|_| invalid(format!("version {version}")))?,
            name: stored.name,
            schema_version: i32::try_from(stored.schema_version)
                .map_err(|_| invalid(format!("schema version {}", stored.schema_version)))?,
            payload: stored.json.to_string(),
            metadata: serde_json::to_string(event.metadata())
                .map_err(|e| invalid(format!("metadata: {e}")))?,
            occurred_at_ns: to_nanos(event.occurred_at()).ok_or_else(|| {
                invalid(format!("event {}: occurred_at out of range", event.id()))
            })?,
        });
    }
    let expected = i64::try_from(expected).map_err(|_| invalid(format!("version {expected}")))?;
    let new_version = rows.last().map_or(expected, |row| row.version);
    Ok((rows, new_version))
}

/// The integration messages the outbox dispatcher builds for `events`, in publish order
/// (collected from [`OutboxWriter`](super::OutboxWriter)); none without a dispatcher.
///
/// # Errors
///
/// [`Error::Outbox`] when a handler failed (the append must be rolled back).
pub(crate) async fn outbox_messages(
    dispatcher: Option<&dyn Dispatch>,
    events: &[AggregateEvent],
) -> Result<Vec<IntegrationMessage>, Error> {
    let Some(dispatcher) = dispatcher else {
        return Ok(Vec::new());
    };
    let (dispatched, messages) = collect(dispatcher.dispatch(events)).await;
    dispatched.map_err(Error::Outbox)?;
    Ok(messages)
}

/// One integration message, encoded for the outbox table.
#[derive(Debug)]
pub(crate) struct OutboxInsert<'a> {
    pub(crate) message_id: Uuid,
    /// The message's `ce-aggregateversion` header, or the append's new version.
    pub(crate) aggregate_version: i64,
    pub(crate) subject: &'a str,
    pub(crate) name: &'a str,
    /// `[[name, value], ...]` as JSON.
    pub(crate) headers: String,
    pub(crate) payload: &'a [u8],
}

/// The outbox rows of `messages`, built by an append to `aggregate`/`id` whose new version
/// is `fallback_version`.
///
/// # Errors
///
/// [`Error::InvalidEvent`] when headers cannot be written as JSON, or when one could never be
/// sent as a NATS header (`IntegrationMessage::unsendable_header`: an aggregate, correlation
/// or causation id with a line break): refused here, at the append, rather than
/// stored and refused by the relay (parked, with the aggregate's later rows waiting behind it).
pub(crate) fn outbox_rows<'a>(
    aggregate: &str,
    id: &str,
    fallback_version: i64,
    messages: &'a [IntegrationMessage],
) -> Result<Vec<OutboxInsert<'a>>, Error> {
    messages
        .iter()
        .map(|message| {
            if let Some(reason) = message.unsendable_header() {
                return Err(Error::InvalidEvent {
                    aggregate: aggregate.to_owned(),
                    // Escaped: the id is what has the line break, most likely.
                    id: id.escape_debug().to_string(),
                    reason,
                });
            }
            Ok(OutboxInsert {
                message_id: message.id,
                aggregate_version: message
                    .header(headers::AGGREGATE_VERSION)
                    .and_then(|v| v.parse::<i64>().ok())
                    .unwrap_or(fallback_version),
                subject: &message.subject,
                name: &message.name,
                headers: serde_json::to_string(&message.headers).map_err(|e| {
                    Error::InvalidEvent {
                        aggregate: aggregate.to_owned(),
                        id: id.to_owned(),
                        reason: format!("headers of {}: {e}", message.id),
                    }
                })?,
                payload: &message.payload,
            })
        })
        .collect()
}

/// Decodes a stored event from `row`, whose columns are `position`, `event_id` (text),
/// `aggregate_type`, `aggregate_id`, `version`, `event_name`, `schema_version`, `payload`
/// and `metadata` (JSON text), `occurred_at_ns`; the payload goes through `registry`
/// (upcasters included).
///
/// # Errors
///
/// [`Error::Database`] (a column missing or of another type), [`Error::Registry`] or
/// [`Error::Corrupt`].
pub(crate) fn decode_event<'r, R>(
    registry: &EventRegistry,
    row: &'r R,
) -> Result<RecordedEvent, Error>
where
    R: Row,
    &'static str: ColumnIndex<R>,
    String: Decode<'r, R::Database> + Type<R::Database>,
    i64: Decode<'r, R::Database> + Type<R::Database>,
    i32: Decode<'r, R::Database> + Type<R::Database>,
{
    let position: i64 = row.try_get("position")?;
    let event_id: String = row.try_get("event_id")?;
    let aggregate_type: String = row.try_get("aggregate_type")?;
    let aggregate_id: String = row.try_get("aggregate_id")?;
    let version: i64 = row.try_get("version")?;
    let name: String = row.try_get("event_name")?;
    let schema_version: i32 = row.try_get("schema_version")?;
    let payload: String = row.try_get("payload")?;
    let metadata: String = row.try_get("metadata")?;
    let occurred_at_ns: i64 = row.try_get("occurred_at_ns")?;
    let corrupt = |reason: String| Error::Corrupt {
        aggregate: aggregate_type.clone(),
        id: aggregate_id.clone(),
        reason,
    };
    let event_id = Uuid::parse_str(&event_id)
        .map_err(|e| corrupt(format!("event id {event_id:?} is not a UUID: {e}")))?;
    let json = serde_json::from_str(&payload)
        .map_err(|e| corrupt(format!("event {event_id}: payload is not JSON: {e}")))?;
    let metadata: Metadata = serde_json::from_str(&metadata).map_err(|e| {
        corrupt(format!(
            "event {event_id}: metadata is not a string map: {e}"
        ))
    })?;
    let schema_version = u32::try_from(schema_version)
        .map_err(|_| corrupt(format!("event {event_id}: schema version {schema_version}")))?;
    let (name, payload) = registry.decode_stored(StoredPayload {
        name,
        schema_version,
        json,
    })?;
    let aggregate_version = u64::try_from(version)
        .map_err(|_| corrupt(format!("event {event_id}: version {version}")))?;
    Ok(RecordedEvent {
        position: u64::try_from(position).unwrap_or_default(),
        event: AggregateEvent {
            event: Event {
                id: event_id,
                name,
                payload,
                metadata,
                occurred_at: from_nanos(occurred_at_ns),
            },
            aggregate_name: aggregate_type,
            aggregate_id,
            aggregate_version,
        },
    })
}

/// Nanoseconds since the Unix epoch, negative before it; `None` past the `i64` range.
pub(crate) fn to_nanos(time: SystemTime) -> Option<i64> {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_nanos()).ok(),
        Err(before) => i64::try_from(before.duration().as_nanos()).ok().map(|n| -n),
    }
}

/// The instant `nanos` nanoseconds after (before, when negative) the Unix epoch.
pub(crate) fn from_nanos(nanos: i64) -> SystemTime {
    let magnitude = Duration::from_nanos(nanos.unsigned_abs());
    if nanos >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

/// `error` as the [`AggregateStore`](crate::AggregateStore) trait reports it for `A`: a
/// conflict and a missing aggregate as their own variants, anything else as a backend error.
pub(crate) fn store_error<A: Aggregate>(error: Error) -> StoreError {
    match error {
        Error::Conflict {
            id,
            expected,
            actual,
            ..
        } => StoreError::Conflict {
            aggregate: A::NAME,
            id,
            expected,
            actual,
        },
        Error::NotFound { id, .. } => StoreError::NotFound {
            aggregate: A::NAME,
            id,
        },
        other => StoreError::Backend(Box::new(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_round_trip() {
        for time in [
            UNIX_EPOCH,
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH - Duration::new(5, 1),
        ] {
            assert_eq!(from_nanos(to_nanos(time).unwrap()), time);
        }
    }
}
