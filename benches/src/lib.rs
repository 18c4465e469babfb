//! Benchmarks of eventmap (not published): what both sides of each comparison run.
//!
//! * In process (`benches/in_process.rs`, criterion): one domain event converted, dispatched
//!   and encoded into an [`eventmap::IntegrationMessage`] by the generated code (the generated
//!   routers, [`GeneratedRouter`], and the [`eventmap::EventDispatcher`] with the generated
//!   registration) vs by hand-written code ([`hand::HandDispatcher`]: a `match` on the event
//!   name and `TryFrom` conversions), for the four events of the ordering example and the
//!   50-field [`wide`] event.
//! * Broker (`benches/broker.rs`): eventmap's JetStream publisher and consumer
//!   (`Consumer::deliveries`) vs raw async-nats, on a private `nats-server`; the outbox relay
//!   ([`outbox`], PostgreSQL)
//!   vs raw pipelined publishing, its end-to-end latency and its peak memory; the declared
//!   subscription ([`consumer`]: `Consumer` with a generated router, with and without the
//!   inbox) vs a raw pull consumer.
//!
//! `./benches/run.sh` runs both and prints the tables; `BENCHMARKS.md` holds the figures.
#![deny(missing_docs)]

pub mod consumer;
pub mod hand;
pub mod ordering;
pub mod outbox;
pub mod stats;
pub mod summary;
pub mod wide;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use eventmap::{EventDispatcher, IntegrationMessage, PublishError, PublishReceipt, Publisher};

/// A [`Publisher`] that accepts every message and keeps nothing: the in-process benchmark
/// measures everything up to the transport.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullPublisher;

#[async_trait::async_trait]
impl Publisher for NullPublisher {
    async fn publish(&self, message: &IntegrationMessage) -> Result<PublishReceipt, PublishError> {
        std::hint::black_box(message);
        Ok(PublishReceipt {
            stream: String::new(),
            sequence: 0,
            duplicate: false,
        })
    }
}

/// The dispatcher as a service sets it up: every integration handler of the ordering example
/// and of the wide event registered by the generated functions, publishing through
/// `publisher`.
pub fn generated_dispatcher(publisher: Arc<dyn Publisher>) -> EventDispatcher {
    let mut dispatcher = EventDispatcher::new();
    ordering_example::integration_events::register_integration_event_handlers(
        &mut dispatcher,
        Arc::clone(&publisher),
    );
    wide::generated::register_integration_event_handlers(&mut dispatcher, publisher);
    dispatcher
}

/// The generated routers of the ordering example and of the wide event, combined (a tuple
/// routes through the first table that maps the event's type): what a service publishing both
/// tables without an [`EventDispatcher`] holds.
pub type GeneratedRouter = (
    ordering_example::integration_events::DomainEventRouter,
    wide::generated::DomainEventRouter,
);

/// The [`GeneratedRouter`] publishing through `publisher`.
pub fn generated_router(publisher: Arc<dyn Publisher>) -> GeneratedRouter {
    (
        ordering_example::integration_events::DomainEventRouter::new(&publisher),
        wide::generated::DomainEventRouter::new(publisher),
    )
}

/// Polls `future` once and returns its output: for futures that never wait (dispatch to a
/// [`NullPublisher`]), without the cost of an executor in the measurement.
///
/// # Panics
///
/// When the future is not ready after one poll.
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    match future.as_mut().poll(&mut context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("run_ready: the future waits; use an executor"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eventmap::InMemoryPublisher;

    /// The sides of the in-process comparison (generated router, dispatcher, hand-written)
    /// must build byte-identical messages from the same events, or the comparison is
    /// meaningless.
    #[test]
    fn generated_and_hand_written_build_the_same_messages() {
        let events = ordering::sample_events("order-1")
            .into_iter()
            .chain([wide::sample_event("wide-1").into_dyn()])
            .collect::<Vec<_>>();
        let generated = InMemoryPublisher::new();
        let dispatched = InMemoryPublisher::new();
        let hand = InMemoryPublisher::new();
        run_ready(eventmap::dispatcher::publish_routed(
            &generated_router(Arc::new(generated.clone())),
            &events,
        ))
        .expect("generated routing");
        run_ready(generated_dispatcher(Arc::new(dispatched.clone())).publish(&events))
            .expect("generated dispatch");
        run_ready(hand::HandDispatcher::new(Arc::new(hand.clone())).publish(&events))
            .expect("hand-written dispatch");
        let generated = generated.messages();
        assert_eq!(generated.len(), 5);
        assert_eq!(generated, hand.messages());
        assert_eq!(generated, dispatched.messages());
        let wide = generated.last().expect("wide message");
        let decoded =
            <wide::proto::bench::v1::WideHappened as prost::Message>::decode(wide.payload.clone())
                .expect("decode");
        assert_eq!(decoded.items.len(), 5);
        assert_eq!(decoded.schema_rev, 7);
    }
}
