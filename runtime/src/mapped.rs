//! [`MappedEvent`]: a domain event type whose integration events are declared in a mapping
//! table, implemented by `#[derive(IntegrationEvent)]`.

use std::sync::Arc;

use crate::dispatcher::EventDispatcher;
use crate::event::DomainEvent;
use crate::publisher::{IntoSharedPublisher, Publisher};

/// A domain event type mapped to integration events by a `mappings.yaml` table.
///
/// `#[derive(IntegrationEvent)]` implements it from the table's row of the type: the names,
/// and the registration of one
/// [`IntegrationEventHandler`](crate::integration::IntegrationEventHandler) per integration
/// event, each converting with the generated converter and publishing on its channel.
pub trait MappedEvent: DomainEvent + Sized {
    /// The domain event name, as the table writes it (a key of `events:`).
    const DOMAIN_EVENT: &'static str;
    /// The integration events it is published as (their `ce-type`s), in table order; empty for
    /// an `internal` event.
    const INTEGRATION_EVENTS: &'static [&'static str];

    /// Subscribes, by type, one integration handler per integration event on `dispatcher`,
    /// each publishing through `publisher`.
    fn register_integration_handlers(
        dispatcher: &mut EventDispatcher,
        publisher: &Arc<dyn Publisher>,
    );
}

impl EventDispatcher {
    /// Registers the integration handlers of the mapped domain event type `T`
    /// ([`MappedEvent::register_integration_handlers`]), publishing through `publisher`: an
    /// `Arc<JetStreamPublisher>`, an `Arc<dyn Publisher>` or a reference to either
    /// ([`IntoSharedPublisher`]).
    pub fn register_mapped<T: MappedEvent>(
        &mut self,
        publisher: impl IntoSharedPublisher,
    ) -> &mut Self {
        T::register_integration_handlers(self, &publisher.into_shared());
        self
    }
}
