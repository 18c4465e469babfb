//! [`ConsumerHandler`]: what a [`Consumer`](super::Consumer) does with each event.

use std::future::Future;

use crate::decode::IntegrationEventSet;
use crate::error::BoxError;
use crate::nats::Delivery;

/// What a consumer does with each decoded event. `Ok`: the message is acknowledged. `Err`:
/// it is redelivered after the policy's backoff; after [`DeliveryPolicy::max_deliver`](crate::nats::DeliveryPolicy::max_deliver)
/// deliveries it is dead-lettered, then acknowledged. A panic counts as an `Err`.
///
/// The handler must not acknowledge the delivery itself. Delivery is at least once: a
/// handler can see an event again (a lost ack, a stopped process), so it must be idempotent
/// or deduplicate on [`Delivery::id`] (`ce-id`).
pub trait ConsumerHandler<E: IntegrationEventSet>: Send + Sync {
    /// Handles one delivery.
    fn handle(&self, delivery: &Delivery<E>) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// A [`ConsumerHandler`] made of a function, see [`consumer_fn`].
struct ConsumerFn<F>(F);

impl<E, F, Fut> ConsumerHandler<E> for ConsumerFn<F>
where
    E: IntegrationEventSet,
    F: Fn(&Delivery<E>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    fn handle(&self, delivery: &Delivery<E>) -> impl Future<Output = Result<(), BoxError>> + Send {
        (self.0)(delivery)
    }
}

/// A [`ConsumerHandler`] from a closure `Fn(&Delivery<E>) -> Future`.
///
/// The future may not borrow the delivery (its type cannot depend on the borrow's lifetime
/// on stable Rust, and `async` closures cannot promise a `Send` future yet): take what the
/// handler needs before the `async move` block. A type implementing [`ConsumerHandler`] has no
/// such limit.
///
/// ```
/// use eventmap::nats::{ConsumerHandler, Delivery, consumer_fn};
/// # #[derive(Debug, Clone)] enum Events { A }
/// # impl eventmap::IntegrationEventSet for Events {
/// #     const CHANNEL: eventmap::ChannelSpec = eventmap::ChannelSpec::new("c", "c", "C");
/// #     const NAMES: &'static [&'static str] = &["A"];
/// #     fn decode(_: &str, _: &[u8]) -> Result<Self, eventmap::DecodeError> { Ok(Events::A) }
/// #     fn name(&self) -> &'static str { "A" }
/// # }
/// fn handler() -> impl ConsumerHandler<Events> {
///     consumer_fn(|delivery: &Delivery<Events>| {
///         let (id, event) = (delivery.id().to_owned(), delivery.event.clone());
///         async move {
///             println!("{id}: {event:?}");
///             Ok(())
///         }
///     })
/// }
/// ```
pub fn consumer_fn<E, F, Fut>(f: F) -> impl ConsumerHandler<E>
where
    E: IntegrationEventSet,
    F: Fn(&Delivery<E>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), BoxError>> + Send,
{
    ConsumerFn(f)
}

pub(super) use crate::error::panic_message;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages() {
        let text: Box<dyn std::any::Any + Send> = Box::new("static");
        assert_eq!(panic_message(&*text), "static");
        let owned: Box<dyn std::any::Any + Send> = Box::new(String::from("owned"));
        assert_eq!(panic_message(&*owned), "owned");
        let other: Box<dyn std::any::Any + Send> = Box::new(7);
        assert_eq!(panic_message(&*other), "(no message)");
    }
}
