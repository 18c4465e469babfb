//! The handler that turns a domain event into a published integration event.
//!
//! Generated registration code subscribes one [`IntegrationEventHandler`] per mapping entry
//! (`events: OrderCreated: - name: OrderCreatedEvent ...`) to the
//! [`EventDispatcher`](crate::dispatcher::EventDispatcher).

mod source;

use std::any::type_name;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::channel::ChannelSpec;
use crate::convert::ConversionError;
use crate::event::{AggregateEvent, DomainEvent};
use crate::message::{IntegrationMessage, integration_event_id};
use crate::publisher::{PublishError, Publisher};
pub use source::IntegrationSource;
pub use source::publish_row;

/// A generated conversion from a typed domain event (payload plus envelope: ids, aggregate,
/// time) to the prost message of one integration event.
pub type Converter<T, M> = fn(&AggregateEvent<T>) -> Result<M, ConversionError>;

/// Why an [`IntegrationEventHandler`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntegrationError {
    /// The dispatcher passed an event whose payload is not the type the handler converts
    /// (the handler was subscribed to the wrong event name).
    #[error("domain event `{event_name}` does not carry a `{expected}` payload")]
    UnexpectedPayload {
        /// Name of the domain event received.
        event_name: String,
        /// Rust type name of the payload the handler expects.
        expected: &'static str,
    },
    /// A field could not be converted.
    #[error("cannot convert domain event `{domain_event}` into `{integration_event}`")]
    Conversion {
        /// Name of the domain event.
        domain_event: String,
        /// Name of the integration event.
        integration_event: &'static str,
        /// The field error.
        #[source]
        source: ConversionError,
    },
    /// The publisher did not confirm the message.
    #[error("cannot publish `{integration_event}` ({integration_event_id})")]
    Publish {
        /// Name of the integration event.
        integration_event: &'static str,
        /// Id of the integration event (`ce-id`).
        integration_event_id: uuid::Uuid,
        /// The publisher's error.
        #[source]
        source: PublishError,
    },
}

/// Converts domain events of type `T` into the integration event `M` and publishes them.
///
/// On [`handle`](crate::dispatcher::EventHandler::handle): downcast the payload to `T`, run the converter, encode
/// `M`, wrap it with [`IntegrationMessage::from_aggregate_event`] and await
/// [`Publisher::publish`]. Runs inside a tracing span `integration_event` carrying the domain
/// and integration event names and ids.
pub struct IntegrationEventHandler<T: DomainEvent, M: prost::Message> {
    publisher: Arc<dyn Publisher>,
    channel: ChannelSpec,
    name: &'static str,
    ce_type: &'static str,
    dataschema: Option<&'static str>,
    source: &'static str,
    convert: Converter<T, M>,
}

impl<T: DomainEvent, M: prost::Message> IntegrationEventHandler<T, M> {
    /// A handler publishing `integration_event_name` on `channel` through `publisher`, with
    /// `source` as CloudEvents `ce-source` (the service name) and `convert` as field mapping.
    pub fn new(
        publisher: Arc<dyn Publisher>,
        channel: ChannelSpec,
        integration_event_name: &'static str,
        source: &'static str,
        convert: Converter<T, M>,
    ) -> Self {
        Self {
            publisher,
            channel,
            name: integration_event_name,
            ce_type: integration_event_name,
            dataschema: None,
            source,
            convert,
        }
    }

    /// Publishes with `dataschema` in the `ce-dataschema` header: the contract of the
    /// payload, `eventmap:<proto message full name>#<fingerprint>`
    /// ([`Contract::dataschema`](crate::Contract::dataschema), computed by the generator at
    /// build time). Consumers with the contract guard check it (`docs/delivery.md`).
    #[must_use]
    pub fn with_dataschema(mut self, dataschema: &'static str) -> Self {
        self.dataschema = Some(dataschema);
        self
    }

    /// The `ce-dataschema` written on every message, if the handler has one
    /// ([`with_dataschema`](Self::with_dataschema)).
    pub fn dataschema(&self) -> Option<&'static str> {
        self.dataschema
    }

    /// Publishes with `ce_type` as the CloudEvents `ce-type` header instead of the
    /// integration event name (a row's `ce_type:` in the table, e.g.
    /// `com.example.ordering.OrderCreated`). The subject
    /// (`<channel subject>.<integration event name>`) and the `ce-id` stay those of the name.
    #[must_use]
    pub fn with_ce_type(mut self, ce_type: &'static str) -> Self {
        self.ce_type = ce_type;
        self
    }

    /// The integration event name: the last subject token, and the `ce-type` unless
    /// [`with_ce_type`](Self::with_ce_type) gave another.
    pub fn integration_event_name(&self) -> &'static str {
        self.name
    }

    /// The CloudEvents type written in the `ce-type` header: the integration event name, or
    /// the one given by [`with_ce_type`](Self::with_ce_type).
    pub fn ce_type(&self) -> &'static str {
        self.ce_type
    }

    /// The channel the handler publishes on.
    pub fn channel(&self) -> &ChannelSpec {
        &self.channel
    }

    /// Builds the message for `event` without publishing it.
    ///
    /// # Errors
    ///
    /// [`IntegrationError::UnexpectedPayload`] or [`IntegrationError::Conversion`].
    pub fn to_message(
        &self,
        event: &AggregateEvent,
    ) -> Result<IntegrationMessage, IntegrationError> {
        self.message_with_id(event, integration_event_id(event.id(), self.name))
    }

    /// [`to_message`](Self::to_message) with the message id already computed (the
    /// [`integration_event_id`] of the event's id and the integration event name), which the
    /// publishing path also puts in its span.
    fn message_with_id(
        &self,
        event: &AggregateEvent,
        id: uuid::Uuid,
    ) -> Result<IntegrationMessage, IntegrationError> {
        self.message_converted(event, id, self.convert)
    }

    /// [`message_with_id`](Self::message_with_id) converting with `convert`, which must be the
    /// handler's own converter: generated routers pass it by its function item, so that it
    /// can be inlined where the stored function pointer cannot.
    fn message_converted(
        &self,
        event: &AggregateEvent,
        id: uuid::Uuid,
        convert: impl FnOnce(&AggregateEvent<T>) -> Result<M, ConversionError>,
    ) -> Result<IntegrationMessage, IntegrationError> {
        // The message is built inside the typed view, so the proto message is never moved.
        event
            .with_downcast::<T, _>(|typed| {
                let proto = convert(typed).map_err(|source| IntegrationError::Conversion {
                    domain_event: event.name().to_owned(),
                    integration_event: self.name,
                    source,
                })?;
                Ok(IntegrationMessage::with_id(
                    id,
                    event,
                    &self.channel,
                    self.name,
                    self.ce_type,
                    self.dataschema,
                    self.source,
                    &proto,
                ))
            })
            .unwrap_or_else(|| {
                Err(IntegrationError::UnexpectedPayload {
                    event_name: event.name().to_owned(),
                    expected: type_name::<T>(),
                })
            })
    }

    /// Like [`publish_row`] for this handler, converting with `convert`, the handler's own
    /// converter given again by its function item (what generated routers pass: the call is
    /// then direct and can be inlined). Publishes the same message as
    /// [`publish_event`](Self::publish_event) when `convert` is the converter the handler was
    /// built with; another converter builds another payload.
    ///
    /// # Errors
    ///
    /// As [`publish_row`].
    pub fn publish_converted<'a, F>(
        &'a self,
        convert: F,
        event: &'a AggregateEvent,
        dispatch: &'a tracing::Span,
    ) -> impl Future<Output = Result<(), IntegrationError>> + Send + 'a
    where
        F: FnOnce(&AggregateEvent<T>) -> Result<M, ConversionError> + Send + 'a,
    {
        source::publish_built(self, event, dispatch, move |id| {
            self.message_converted(event, id, convert)
        })
    }

    /// Converts and publishes `event`; the typed form of
    /// [`EventHandler::handle`](crate::dispatcher::EventHandler::handle).
    ///
    /// # Errors
    ///
    /// Any [`IntegrationError`].
    pub async fn publish_event(&self, event: &AggregateEvent) -> Result<(), IntegrationError> {
        publish_row(self, event, &tracing::Span::none()).await
    }
}

impl<T: DomainEvent, M: prost::Message> Clone for IntegrationEventHandler<T, M> {
    fn clone(&self) -> Self {
        Self {
            publisher: Arc::clone(&self.publisher),
            channel: self.channel,
            name: self.name,
            ce_type: self.ce_type,
            dataschema: self.dataschema,
            source: self.source,
            convert: self.convert,
        }
    }
}

impl<T: DomainEvent, M: prost::Message> fmt::Debug for IntegrationEventHandler<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IntegrationEventHandler")
            .field("domain_event", &type_name::<T>())
            .field("integration_event", &self.name)
            .field("ce_type", &self.ce_type)
            .field("dataschema", &self.dataschema)
            .field("message", &type_name::<M>())
            .field("channel", &self.channel)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
