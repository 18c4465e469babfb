//! [`Deliveries`]: a consumer's decoded events one at a time, for a loop of one's own.

use std::fmt;

use async_nats::jetstream::AckKind;
use futures::Stream;

use super::pull::Pulled;
use super::{ConsumeError, Consumer, ConsumerReport};
use crate::decode::IntegrationEventSet;
use crate::nats::delivery::{Delivery, Received};

/// The decoded events of a [`Consumer`], handed over one at a time, for callers that run
/// their own loop instead of [`Consumer::run`]; made by [`Consumer::deliveries`].
///
/// The caller settles each [`Delivery`] ([`ack`](Delivery::ack),
/// [`ack_unconfirmed`](Delivery::ack_unconfirmed), [`nak`](Delivery::nak),
/// [`term`](Delivery::term), [`in_progress`](Delivery::in_progress)); one left unsettled is
/// redelivered after the ack wait. What the stream settles itself, never handing it over:
///
/// * an undecodable message (missing or invalid CloudEvents headers, unknown `ce-type`,
///   `ce-type` not matching the subject, invalid payload): logged, dead-lettered when the
///   policy has a dead-letter channel, and terminated (`+TERM`);
/// * a message delivered more than
///   [`DeliveryPolicy::max_deliver`](super::DeliveryPolicy::max_deliver) times (the caller
///   naked it on its last allowed delivery, or earlier deliveries ended without an outcome):
///   dead-lettered then acked, or terminated without a dead-letter channel.
///
/// Messages are pulled [`DeliveryPolicy::batch`](super::DeliveryPolicy::batch) at a time; when
/// a batch or less is left, the next batch is requested (prefetch), so up to 2 batches wait
/// their turn, without in-progress acks: keep the batch small enough for two batches to be
/// handled within the ack wait. Failed pull requests are retried with a pause. [`close`](Self::close) releases
/// the messages pulled but not handed over (a prefetch in flight included); dropping the
/// stream leaves them to the ack wait.
///
/// ```no_run
/// use eventmap::nats::{Consumer, ConsumerSpec};
/// # #[derive(Debug)] enum OrderEvents { Created }
/// # impl eventmap::IntegrationEventSet for OrderEvents {
/// #     const CHANNEL: eventmap::ChannelSpec =
/// #         eventmap::ChannelSpec::new("order", "ordering.order", "ORDERING_ORDERS");
/// #     const NAMES: &'static [&'static str] = &["OrderCreatedEvent"];
/// #     fn decode(_: &str, _: &[u8]) -> Result<Self, eventmap::DecodeError> { Ok(Self::Created) }
/// #     fn name(&self) -> &'static str { "OrderCreatedEvent" }
/// # }
/// # async fn demo(jetstream: eventmap::nats::async_nats::jetstream::Context)
/// #     -> Result<(), eventmap::BoxError> {
/// let spec = ConsumerSpec::new("audit-order", &[]);
/// let mut deliveries = Consumer::<OrderEvents>::start(&jetstream, &spec)
///     .await?
///     .deliveries();
/// while let Some(delivery) = deliveries.next().await {
///     let delivery = delivery?;
///     println!("{}: {:?}", delivery.id(), delivery.event);
///     delivery.ack().await?;
/// }
/// # Ok(()) }
/// ```
pub struct Deliveries<E: IntegrationEventSet> {
    consumer: Consumer<E>,
    pulled: Pulled,
    ended: bool,
}

impl<E: IntegrationEventSet> fmt::Debug for Deliveries<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deliveries")
            .field("consumer", &self.consumer)
            .field("pulled", &self.pulled.queue.len())
            .field("ended", &self.ended)
            .finish()
    }
}

impl<E: IntegrationEventSet> Consumer<E> {
    /// Turns the consumer into the stream of its deliveries, for a loop of your own (see
    /// [`Deliveries`]); [`run`](Self::run) is the loop this crate provides.
    pub fn deliveries(self) -> Deliveries<E> {
        Deliveries {
            consumer: self,
            pulled: Pulled::default(),
            ended: false,
        }
    }
}

impl<E: IntegrationEventSet> Deliveries<E> {
    /// The consumer the deliveries come from (its spec and filter subjects).
    pub fn consumer(&self) -> &Consumer<E> {
        &self.consumer
    }

    /// The next decoded event, pulling more messages when none is waiting.
    ///
    /// Cancel-safe: messages pulled before the future is dropped stay queued for the next
    /// call. Returns `None` after an error (the stream has ended).
    ///
    /// # Errors
    ///
    /// [`ConsumeError::ConsumerGone`] when the consumer or its stream was deleted;
    /// [`ConsumeError::IncompatibleContract`] (feature `contracts`, policy `Refuse`) when a
    /// producer's contract cannot be read with the consumer's (the messages pulled are
    /// released).
    pub async fn next(&mut self) -> Option<Result<Delivery<E>, ConsumeError>> {
        while !self.ended {
            self.pulled.poll_prefetch();
            let Some(message) = self.pulled.queue.pop_front() else {
                if let Err(err) = self.consumer.fill(&mut self.pulled).await {
                    self.ended = true;
                    return Some(Err(err));
                }
                continue;
            };
            self.consumer.prefetch(&mut self.pulled);
            let Some(received) = Received::new(message) else {
                continue;
            };
            let received = match self
                .consumer
                .screen(received, &mut ConsumerReport::default())
                .await
            {
                Ok(Some(received)) => received,
                Ok(None) => continue,
                Err(err) => {
                    self.ended = true;
                    self.consumer
                        .release(std::mem::take(&mut self.pulled))
                        .await;
                    return Some(Err(err));
                }
            };
            match received.decode::<E>() {
                Ok(delivery) => match self.consumer.exhausted(&delivery) {
                    None => return Some(Ok(delivery)),
                    Some(error) => {
                        tracing::error!(%error, "giving up on a message past max_deliver");
                        let received = Received::from(delivery);
                        self.consumer.give_up(&received, &error, AckKind::Ack).await;
                    }
                },
                Err(undecodable) => {
                    self.consumer
                        .reject(&undecodable.message, &undecodable.reason)
                        .await;
                }
            }
        }
        None
    }

    /// Naks (no delay) the messages pulled but not handed over (after waiting for a prefetch
    /// in flight), so that another instance gets them at once, and ends the stream. Deliveries handed over are not affected.
    pub async fn close(self) {
        self.consumer.release(self.pulled).await;
    }

    /// The deliveries as a [`futures::Stream`], ending after the first error (see
    /// [`next`](Self::next)).
    pub fn into_stream(self) -> impl Stream<Item = Result<Delivery<E>, ConsumeError>> {
        futures::stream::unfold(self, |mut deliveries| async move {
            let item = deliveries.next().await?;
            Some((item, deliveries))
        })
    }
}
