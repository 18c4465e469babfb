//! Metrics of the runtime as OpenTelemetry instruments (feature `otel`), recorded through the
//! global meter provider under the meter [`METER`]. Without the feature, or while the
//! application has installed no meter provider, recording does nothing.
//!
//! The instruments are created on first use, from the global provider of that moment:
//! install the application's provider (`opentelemetry::global::set_meter_provider`, with an
//! OTLP or Prometheus exporter; `eventmap-ops` serves them in Prometheus form) at start,
//! before the first publish or consume.
//!
//! | instrument | kind, unit | attributes | recorded |
//! |---|---|---|---|
//! | [`PUBLISH_DURATION`] | histogram, s | `outcome` (`ok`, `duplicate`, `error`) | each `JetStreamPublisher::publish`: from the send to the JetStream ack (the relay's publish latency; its count is the publish rate) |
//! | [`RELAY_PUBLISHED`] | counter, messages | `schema` | outbox rows a relay round published (duplicates included) |
//! | [`RELAY_FAILURES`] | counter, messages | `schema` | failed publish attempts of relay rounds |
//! | [`OUTBOX_BACKLOG`] | gauge, rows | `schema` | unpublished rows, each time a relay counts them (`Relay::backlog`: after a failed round and when idle) |
//! | [`HANDLER_DURATION`] | histogram, s | `durable`, `event_type`, `outcome` (`ok`, `error`) | each handler call of `Consumer::run` |
//! | [`BATCH_DURATION`] | histogram, s | `durable`, `outcome` | each batch transaction's handler of `Consumer::run_with_inbox` (one per transaction of a split batch) |
//! | [`REDELIVERIES`] | counter, messages | `durable` | deliveries after the first one of a message, handled by `Consumer::run` |
//! | [`DEAD_LETTERS`] | counter, messages | `durable`, `dead_letter_stream` | dead letters stored |
//!
//! What only the server knows (a consumer's pending and redelivered messages, the dead
//! letters waiting, the age of the oldest outbox row) is read by `eventmap-ops status` and
//! served by `eventmap-ops metrics`.

#[cfg(feature = "nats")]
use std::time::Duration;

/// The meter's name.
pub const METER: &str = "eventmap";
/// Publish latency to JetStream, seconds.
pub const PUBLISH_DURATION: &str = "eventmap.publish.duration";
/// Outbox rows published by relays.
pub const RELAY_PUBLISHED: &str = "eventmap.relay.published";
/// Failed relay publish attempts.
pub const RELAY_FAILURES: &str = "eventmap.relay.failures";
/// Unpublished outbox rows.
pub const OUTBOX_BACKLOG: &str = "eventmap.outbox.backlog";
/// Handler duration, seconds.
pub const HANDLER_DURATION: &str = "eventmap.consumer.handler.duration";
/// Batch handler duration (`run_with_inbox`), seconds.
pub const BATCH_DURATION: &str = "eventmap.consumer.batch.duration";
/// Redeliveries.
pub const REDELIVERIES: &str = "eventmap.consumer.redeliveries";
/// Dead letters stored.
pub const DEAD_LETTERS: &str = "eventmap.consumer.dead_letters";

/// A publish's outcome.
#[cfg(feature = "nats")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Stored.
    Ok,
    /// The stream had it already.
    Duplicate,
    /// Failed.
    Error,
}

#[cfg(feature = "nats")]
impl Outcome {
    #[cfg_attr(not(feature = "otel"), allow(dead_code))]
    fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Duplicate => "duplicate",
            Self::Error => "error",
        }
    }
}

// Each recording function is compiled with what calls it: the publisher's and consumers'
// with `nats`, the relays' with a SQL backend.
#[cfg(all(
    feature = "otel",
    any(feature = "nats", feature = "postgres", feature = "sqlite")
))]
mod instruments {
    use std::sync::OnceLock;

    use opentelemetry::metrics::{Counter, Gauge, Histogram};

    // Every instrument is registered; which are recorded depends on the features.
    #[cfg_attr(
        not(all(feature = "nats", any(feature = "postgres", feature = "sqlite"))),
        allow(dead_code)
    )]
    pub(super) struct Instruments {
        pub(super) publish_duration: Histogram<f64>,
        pub(super) relay_published: Counter<u64>,
        pub(super) relay_failures: Counter<u64>,
        pub(super) outbox_backlog: Gauge<u64>,
        pub(super) handler_duration: Histogram<f64>,
        pub(super) batch_duration: Histogram<f64>,
        pub(super) redeliveries: Counter<u64>,
        pub(super) dead_letters: Counter<u64>,
    }

    /// Latency buckets from 0.5 ms to 10 s.
    const BUCKETS: [f64; 14] = [
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];

    pub(super) fn get() -> &'static Instruments {
        static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
        INSTRUMENTS.get_or_init(|| {
            let meter = opentelemetry::global::meter(super::METER);
            let seconds = |name: &'static str, description: &'static str| {
                meter
                    .f64_histogram(name)
                    .with_unit("s")
                    .with_description(description)
                    .with_boundaries(BUCKETS.to_vec())
                    .build()
            };
            Instruments {
                publish_duration: seconds(
                    super::PUBLISH_DURATION,
                    "Time from a JetStream publish to its acknowledgement",
                ),
                relay_published: meter
                    .u64_counter(super::RELAY_PUBLISHED)
                    .with_unit("{message}")
                    .with_description("Outbox rows published by relay rounds")
                    .build(),
                relay_failures: meter
                    .u64_counter(super::RELAY_FAILURES)
                    .with_unit("{message}")
                    .with_description("Failed publish attempts of relay rounds")
                    .build(),
                outbox_backlog: meter
                    .u64_gauge(super::OUTBOX_BACKLOG)
                    .with_unit("{row}")
                    .with_description("Unpublished outbox rows when a relay last counted them")
                    .build(),
                handler_duration: seconds(
                    super::HANDLER_DURATION,
                    "Time a consumer's handler took for one message",
                ),
                batch_duration: seconds(
                    super::BATCH_DURATION,
                    "Time a transactional handler took for one batch transaction (one per transaction when inbox_transactions splits a batch)",
                ),
                redeliveries: meter
                    .u64_counter(super::REDELIVERIES)
                    .with_unit("{message}")
                    .with_description("Deliveries after the first one of a message")
                    .build(),
                dead_letters: meter
                    .u64_counter(super::DEAD_LETTERS)
                    .with_unit("{message}")
                    .with_description("Messages dead-lettered by consumers")
                    .build(),
            }
        })
    }
}

#[cfg(all(
    feature = "otel",
    any(feature = "nats", feature = "postgres", feature = "sqlite")
))]
use opentelemetry::KeyValue;

/// Records a JetStream publish that took `took`.
#[cfg(feature = "nats")]
pub(crate) fn published(took: Duration, outcome: Outcome) {
    #[cfg(feature = "otel")]
    instruments::get().publish_duration.record(
        took.as_secs_f64(),
        &[KeyValue::new("outcome", outcome.as_str())],
    );
    #[cfg(not(feature = "otel"))]
    let _ = (took, outcome);
}

/// Records a relay round of `schema`: `published` rows (duplicates included), `failed`
/// attempts.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn relay_round(schema: &str, published: usize, failed: usize) {
    #[cfg(feature = "otel")]
    {
        let attributes = [KeyValue::new("schema", schema.to_owned())];
        let instruments = instruments::get();
        if published > 0 {
            instruments
                .relay_published
                .add(published as u64, &attributes);
        }
        if failed > 0 {
            instruments.relay_failures.add(failed as u64, &attributes);
        }
    }
    #[cfg(not(feature = "otel"))]
    let _ = (schema, published, failed);
}

/// Records the outbox backlog of `schema`.
#[cfg(any(feature = "postgres", feature = "sqlite"))]
pub(crate) fn outbox_backlog(schema: &str, rows: u64) {
    #[cfg(feature = "otel")]
    instruments::get()
        .outbox_backlog
        .record(rows, &[KeyValue::new("schema", schema.to_owned())]);
    #[cfg(not(feature = "otel"))]
    let _ = (schema, rows);
}

/// Records a handler call of `durable` for `event_type` that began at `started` (and a
/// redelivery when `delivered` is above 1). The duration is read here, so that without the
/// feature `otel` a handled message costs no clock read.
#[cfg(feature = "nats")]
pub(crate) fn handled(
    durable: &str,
    event_type: &str,
    delivered: u64,
    started: HandlerStart,
    ok: bool,
) {
    #[cfg(feature = "otel")]
    {
        let instruments = instruments::get();
        instruments.handler_duration.record(
            started.0.elapsed().as_secs_f64(),
            &[
                KeyValue::new("durable", durable.to_owned()),
                KeyValue::new("event_type", event_type.to_owned()),
                KeyValue::new("outcome", if ok { "ok" } else { "error" }),
            ],
        );
        if delivered > 1 {
            instruments
                .redeliveries
                .add(1, &[KeyValue::new("durable", durable.to_owned())]);
        }
    }
    #[cfg(not(feature = "otel"))]
    let _ = (durable, event_type, delivered, started, ok);
}

/// When a handler call began, for [`handled`]: the clock is read only with the feature
/// `otel` (without it there is nothing to record).
#[cfg(feature = "nats")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct HandlerStart(#[cfg(feature = "otel")] std::time::Instant);

#[cfg(feature = "nats")]
impl HandlerStart {
    /// Now, with the feature `otel`.
    pub(crate) fn now() -> Self {
        Self(
            #[cfg(feature = "otel")]
            std::time::Instant::now(),
        )
    }
}

/// Records a batch handler call of `durable`.
#[cfg(all(feature = "nats", any(feature = "postgres", feature = "sqlite")))]
pub(crate) fn batch_handled(durable: &str, took: Duration, ok: bool) {
    #[cfg(feature = "otel")]
    instruments::get().batch_duration.record(
        took.as_secs_f64(),
        &[
            KeyValue::new("durable", durable.to_owned()),
            KeyValue::new("outcome", if ok { "ok" } else { "error" }),
        ],
    );
    #[cfg(not(feature = "otel"))]
    let _ = (durable, took, ok);
}

/// Records a dead letter stored by `durable` in `stream`.
#[cfg(feature = "nats")]
pub(crate) fn dead_lettered(durable: &str, stream: &str) {
    #[cfg(feature = "otel")]
    instruments::get().dead_letters.add(
        1,
        &[
            KeyValue::new("durable", durable.to_owned()),
            KeyValue::new("dead_letter_stream", stream.to_owned()),
        ],
    );
    #[cfg(not(feature = "otel"))]
    let _ = (durable, stream);
}
