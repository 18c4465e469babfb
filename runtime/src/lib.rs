//! Runtime of **eventmap**: the types that code generated from a `mappings.yaml` table relies on.
//!
//! The flow of an event through this crate:
//!
//! 1. An aggregate records a [`DomainEvent`](event::DomainEvent) wrapped in an
//!    [`AggregateEvent`](event::AggregateEvent) ([`store::AggregateRoot::record`]).
//! 2. A store ([`store::AggregateStore`]) saves the aggregate; the
//!    [`store::DispatchingStore`] middleware hands the saved events to an
//!    [`EventDispatcher`](dispatcher::EventDispatcher).
//! 3. Generated [`IntegrationEventHandler`](integration::IntegrationEventHandler)s convert each
//!    domain event field by field ([`convert::IntoProto`]) into a protobuf message and wrap it in
//!    an [`IntegrationMessage`](message::IntegrationMessage) with CloudEvents 1.0 binary-mode
//!    headers.
//! 4. A [`Publisher`](publisher::Publisher) puts the message on the wire: the NATS JetStream one
//!    ([`nats::JetStreamPublisher`], feature `nats`) or the in-memory one
//!    ([`publisher::InMemoryPublisher`]).
//! 5. Consumers read a channel with a durable pull consumer ([`nats::Subscription`]) and decode
//!    the messages into a generated [`IntegrationEventSet`](decode::IntegrationEventSet) enum.
//!
//! # Features
//!
//! * `nats` (default): the [`nats`] module (async-nats 0.51, NATS server >= 2.10 for consumers).
//! * `nats-server-harness`: [`nats::LocalServer`], which spawns a private `nats-server` for tests
//!   and examples.
#![deny(missing_docs)]
#![warn(rust_2018_idioms)]

pub mod channel;
pub mod convert;
pub mod decode;
pub mod dispatcher;
pub mod event;
pub mod integration;
pub mod message;
pub mod publisher;
pub mod store;

#[cfg(feature = "nats")]
pub mod nats;

pub use channel::ChannelSpec;
pub use convert::{ConversionError, IntoProto};
pub use decode::{DecodeError, IntegrationEventSet};
pub use dispatcher::{BoxError, DispatchError, EventDispatcher, EventHandler};
pub use event::{AggregateEvent, DomainEvent, Event, Metadata};
pub use integration::{IntegrationError, IntegrationEventHandler};
pub use message::{IntegrationMessage, integration_event_id};
pub use publisher::{InMemoryPublisher, PublishError, PublishReceipt, Publisher};
pub use store::{
    Aggregate, AggregateRoot, AggregateStore, DispatchingStore, InMemoryStore, StoreError,
};
