//! Scenario 10: filter subjects that scale, current-thread runtime.
//!
//! NATS users report large throughput drops with many filter subjects on one consumer
//! (nats-server issues #7014, #7852, #4888). Each round (at most 3), for 4, 20 and 100 event
//! types of one channel: a stream of its own (`BENCH_FILTERS`, subject `bench.filters.>`, file
//! storage) is purged and filled with N messages (default 100,000; the types in turn on
//! `bench.filters.E<i>`, a 100-byte payload, no headers: what is measured is the server's
//! matching; not timed). Then, one after the other (order rotated every round), a durable raw
//! async-nats pull consumer reads all N from the start through `messages()` (batch 100) with a
//! plain ack, filtered:
//!
//! * **exact**: one filter subject per event type (`filter_subjects`, what a `Consumer` of a
//!   subscription to those events asks for);
//! * **wildcard**: one filter, the channel's `bench.filters.>` (what a `Consumer` of a
//!   subscription declared `whole_channel()` asks for).
//!
//! Both deliver every message of the stream; the figure is events per second from the start
//! of the read to the last ack (flushed).

use std::time::Instant;

use bytes::Bytes;
use futures::StreamExt;

use super::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use super::jetstream::stream::{Config as StreamConfig, StorageType};
use super::{Env, Error, Run, rate};

/// The scenario's key in the results.
pub const FILTERS: &str = "10 filters";
/// Event types per channel measured, with the variants' names: (types, exact, wildcard).
pub const TYPES: [(usize, &str, &str); 3] = [
    (
        4,
        "4 types, 4 filter subjects",
        "4 types, 1 wildcard filter",
    ),
    (
        20,
        "20 types, 20 filter subjects",
        "20 types, 1 wildcard filter",
    ),
    (
        100,
        "100 types, 100 filter subjects",
        "100 types, 1 wildcard filter",
    ),
];

/// The benchmark's channel subject and stream.
const SUBJECT: &str = "bench.filters";
const STREAM: &str = "BENCH_FILTERS";
/// Pull batch of the consumers (the runtime's default).
const BATCH: usize = 100;
/// Publish window when filling.
const WINDOW: usize = 1_024;

/// The subject of event type `index`.
fn subject(index: usize) -> String {
    format!("{SUBJECT}.E{index}")
}

/// Creates (or purges) the stream and fills it with `count` messages of `types` types in turn.
async fn fill(env: &Env, types: usize, count: usize) -> Result<(), Error> {
    let stream = env
        .js
        .get_or_create_stream(StreamConfig {
            name: STREAM.to_owned(),
            subjects: vec![format!("{SUBJECT}.>")],
            storage: StorageType::File,
            ..StreamConfig::default()
        })
        .await?;
    stream.purge().await?;
    let payload = Bytes::from(vec![b'x'; 100]);
    let subjects: Vec<String> = (0..types).map(subject).collect();
    let mut in_flight = std::collections::VecDeque::with_capacity(WINDOW);
    for index in 0..count {
        if in_flight.len() >= WINDOW
            && let Some(ack) = in_flight.pop_front()
        {
            ack.await?;
        }
        let subject = subjects[index % types].clone();
        in_flight.push_back(env.js.publish(subject, payload.clone()).await?);
    }
    while let Some(ack) = in_flight.pop_front() {
        ack.await?;
    }
    Ok(())
}

/// Reads the `count` messages of the stream with a durable pull consumer filtered on
/// `filters`; plain acks.
async fn read(env: &Env, count: usize, durable: &str, filters: Vec<String>) -> Result<Run, Error> {
    let stream = env.js.get_stream(STREAM).await?;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(durable.to_owned()),
            ack_policy: AckPolicy::Explicit,
            max_deliver: -1,
            filter_subjects: filters,
            ..pull::Config::default()
        })
        .await?;
    let start = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(BATCH)
        .messages()
        .await?;
    for _ in 0..count {
        let message = messages.next().await.ok_or("consumer ended")??;
        message.ack().await?;
    }
    env.client.flush().await?;
    let elapsed = start.elapsed();
    drop(messages);
    stream.delete_consumer(durable).await?;
    Ok(Run {
        rate: rate(count, elapsed),
        p50_us: None,
    })
}

/// One round: per number of types, fills the stream and reads it with the exact filters and
/// with the wildcard, in turn (rotated by `round`).
pub async fn round(
    env: &Env,
    count: usize,
    round: usize,
) -> Result<Vec<(&'static str, Run)>, Error> {
    let mut runs = Vec::new();
    for (types, exact, wildcard) in TYPES {
        fill(env, types, count).await?;
        for (index, variant) in super::rotated(&[exact, wildcard], round)
            .into_iter()
            .enumerate()
        {
            let filters = if variant == exact {
                (0..types).map(subject).collect()
            } else {
                vec![format!("{SUBJECT}.>")]
            };
            let durable = format!("bench-filters-{round}-{types}-{index}");
            runs.push((variant, read(env, count, &durable, filters).await?));
        }
    }
    env.js.delete_stream(STREAM).await?;
    Ok(runs)
}

/// The table of the scenario, if it ran: events/s per variant and the wildcard / exact ratio.
pub fn table(results: &super::Results, rounds: usize, count: usize) -> Option<String> {
    let key = |variant| (FILTERS, super::Flavor::CurrentThread, variant);
    results.rates.get(&key(TYPES[0].1))?;
    let mut out = format!(
        "\n| filter subjects (current-thread), {count} events, {rounds} rounds | exact filters events/s | one wildcard events/s | wildcard / exact |\n|---|---|---|---|\n"
    );
    for (types, exact, wildcard) in TYPES {
        let rates = |variant| {
            super::cell(
                results
                    .rates
                    .get(&key(variant))
                    .and_then(|r| super::Summary::of(r)),
                0,
            )
        };
        out.push_str(&format!(
            "| 10: {types} event types | {} | {} | {} |\n",
            rates(exact),
            rates(wildcard),
            super::cell(results.ratio(key(wildcard), key(exact)), 2)
        ));
    }
    Some(out)
}
