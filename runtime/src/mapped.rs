//! [`MappedEvent`]: a domain event type whose integration events are declared in a mapping
//! table, implemented by `#[derive(IntegrationEvent)]`.

use std::sync::Arc;

use crate::dispatcher::EventDispatcher;
use crate::event::DomainEvent;
use crate::publisher::{IntoSharedPublisher, Publisher};

/// A domain event type mapped to integration events by a `mappings.yaml` table.
///
/// `#[derive(IntegrationEvent)]` implements it from the table's rows of the type: the names,
/// and the registration of one
/// [`IntegrationEventHandler`](crate::integration::IntegrationEventHandler) per row, each
/// converting with the generated converter and publishing on its channel.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has rows in the mapping table but no `#[derive(IntegrationEvent)]`",
    label = "the table maps this domain event type",
    note = "add `#[derive(eventmap::IntegrationEvent)]` to `{Self}`, or generate its converters with `eventmap generate` / `eventmap_codegen::Builder` (converters on)"
)]
pub trait MappedEvent: DomainEvent + Sized {
    /// The domain event names the table gives the type (keys of `events:`), in table order:
    /// one, or several when rows share the payload type (`type:`).
    const DOMAIN_EVENTS: &'static [&'static str];
    /// The integration events it is published as (their names: the last subject tokens, and
    /// the `ce-type`s unless a row gives a `ce_type:` of its own), in table order; empty for
    /// an `internal` event.
    const INTEGRATION_EVENTS: &'static [&'static str];

    /// Declares the type's names on `dispatcher` ([`EventDispatcher::map_type`]) and, the
    /// first time, subscribes one integration handler per row, by type and domain event name
    /// ([`EventDispatcher::subscribe_to_named`]), each publishing through `publisher`: an
    /// instance is published only by the rows of its own name, and a name without a row fails
    /// the dispatch.
    fn register_integration_handlers(
        dispatcher: &mut EventDispatcher,
        publisher: &Arc<dyn Publisher>,
    );
}

impl EventDispatcher {
    /// Registers the integration handlers of the mapped domain event type `T`
    /// ([`MappedEvent::register_integration_handlers`]), publishing through `publisher`: an
    /// `Arc<JetStreamPublisher>`, an `Arc<dyn Publisher>` or a reference to either
    /// ([`IntoSharedPublisher`]). A second registration of `T` is a no-op, so nothing is
    /// published twice.
    pub fn register_mapped<T: MappedEvent>(
        &mut self,
        publisher: impl IntoSharedPublisher,
    ) -> &mut Self {
        T::register_integration_handlers(self, &publisher.into_shared());
        self
    }
}
