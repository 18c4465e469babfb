//! The hand-written side of the in-process comparison: what a service without eventmap
//! writes to do the same work on the same data. A `match` on the domain event name, a
//! downcast to the payload type, a `TryFrom` conversion into the prost message (`TryFrom`
//! rather than `From` where a field is a checked narrowing), the message encoded and wrapped
//! with the same CloudEvents headers ([`IntegrationMessage::from_aggregate_event`], plus the
//! contract's `ce-dataschema`, [`IntegrationMessage::with_dataschema`]) and handed
//! to the same [`Publisher`].

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use eventmap::{AggregateEvent, ChannelSpec, DomainEvent, IntegrationMessage, Publisher};

use crate::{ordering, wide};

/// A domain event (the type-erased envelope) with its typed payload: the source of the
/// hand-written `TryFrom` conversions.
#[derive(Debug, Clone, Copy)]
pub struct Hand<'a, T>(pub &'a AggregateEvent, pub &'a T);

/// Why hand-written glue failed.
#[derive(Debug, thiserror::Error)]
pub enum HandError {
    /// A value does not fit its proto field.
    #[error("field `{0}` out of range")]
    OutOfRange(&'static str),
    /// The payload is not the type its name promises.
    #[error("domain event `{0}` does not carry the expected payload")]
    Payload(String),
    /// The publisher failed.
    #[error(transparent)]
    Publish(#[from] eventmap::PublishError),
}

impl HandError {
    /// A [`HandError::OutOfRange`] for `field`, as a closure for `map_err`.
    pub fn range<E>(field: &'static str) -> impl FnOnce(E) -> HandError {
        move |_| HandError::OutOfRange(field)
    }
}

/// Routes domain events by name to hand-written conversions and publishes the result.
pub struct HandDispatcher {
    publisher: Arc<dyn Publisher>,
}

impl fmt::Debug for HandDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandDispatcher")
    }
}

fn payload<T: DomainEvent>(event: &AggregateEvent) -> Result<&T, HandError> {
    let payload: &dyn Any = event.payload();
    payload
        .downcast_ref::<T>()
        .ok_or_else(|| HandError::Payload(event.name().to_owned()))
}

/// The message of `proto`, named by its contract (`dataschema`, the value the generator
/// computed: a hand-written producer copies it, or computes it with `eventmap-contract`).
fn message<M: prost::Message>(
    event: &AggregateEvent,
    channel: &ChannelSpec,
    name: &str,
    dataschema: &str,
    source: &str,
    proto: &M,
) -> IntegrationMessage {
    IntegrationMessage::from_aggregate_event(event, channel, name, source, proto)
        .with_dataschema(dataschema)
}

impl HandDispatcher {
    /// A dispatcher publishing through `publisher`.
    pub fn new(publisher: Arc<dyn Publisher>) -> Self {
        Self { publisher }
    }

    /// Converts and publishes every event, in order; events it does not know are skipped.
    ///
    /// # Errors
    ///
    /// The first conversion or publish failure.
    pub async fn publish(&self, events: &[AggregateEvent]) -> Result<(), HandError> {
        use ordering_example::domain::events as domain;
        use ordering_example::integration_events::contracts;
        use ordering_example::proto::ordering::v1 as proto;
        const ORDER: ChannelSpec = ordering::ORDER;
        const SOURCE: &str = ordering::SOURCE;
        for event in events {
            let message = match event.name() {
                "OrderCreated" => {
                    let proto = proto::OrderCreated::try_from(Hand(
                        event,
                        payload::<domain::OrderCreated>(event)?,
                    ))?;
                    message(
                        event,
                        &ORDER,
                        "OrderCreatedEvent",
                        contracts::ORDER_CREATED_EVENT.dataschema,
                        SOURCE,
                        &proto,
                    )
                }
                "OrderReadied" => {
                    let proto = proto::OrderReadied::from(Hand(
                        event,
                        payload::<domain::OrderReadied>(event)?,
                    ));
                    message(
                        event,
                        &ORDER,
                        "OrderReadiedEvent",
                        contracts::ORDER_READIED_EVENT.dataschema,
                        SOURCE,
                        &proto,
                    )
                }
                "OrderCanceled" => {
                    let proto = proto::OrderCanceled::from(Hand(
                        event,
                        payload::<domain::OrderCanceled>(event)?,
                    ));
                    message(
                        event,
                        &ORDER,
                        "OrderCanceledEvent",
                        contracts::ORDER_CANCELED_EVENT.dataschema,
                        SOURCE,
                        &proto,
                    )
                }
                "OrderCompleted" => {
                    let proto = proto::OrderCompleted::from(Hand(
                        event,
                        payload::<domain::OrderCompleted>(event)?,
                    ));
                    message(
                        event,
                        &ORDER,
                        "OrderCompletedEvent",
                        contracts::ORDER_COMPLETED_EVENT.dataschema,
                        SOURCE,
                        &proto,
                    )
                }
                "WideHappened" => {
                    let proto = wide::proto::bench::v1::WideHappened::try_from(Hand(
                        event,
                        payload::<wide::domain::WideHappened>(event)?,
                    ))?;
                    message(
                        event,
                        &wide::WIDE,
                        "WideHappenedEvent",
                        wide::generated::contracts::WIDE_HAPPENED_EVENT.dataschema,
                        wide::SOURCE,
                        &proto,
                    )
                }
                _ => continue,
            };
            self.publisher.as_ref().publish(&message).await?;
        }
        Ok(())
    }
}
