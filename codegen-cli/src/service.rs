//! [`Service`]: what an operations tool needs of a checked mapping table: its channels, the
//! integration events it publishes and consumes with their proto messages, its
//! subscriptions with their durable consumers and dead-letter channels, and the compiled
//! proto descriptors to decode payloads with (prost-reflect).
//!
//! This is a read-only view of the checked model; it adds no dependency (the descriptors are
//! prost-reflect's, which the checks already use), so the `eventmap-ops` binary can read a
//! service's table without the code generator's CLI features.
//!
//! ```no_run
//! let service = eventmap_codegen::service::load("mappings.yaml".as_ref())?;
//! for subscription in &service.subscriptions {
//!     println!("{} -> {:?}", subscription.durable, subscription.dead_letter);
//! }
//! # Ok::<(), eventmap_codegen::Error>(())
//! ```

use std::path::{Path, PathBuf};

use prost_reflect::{DescriptorPool, MessageDescriptor};

use crate::{Error, analyze, model};

/// A checked table, as an operations tool sees it.
#[derive(Debug, Clone)]
pub struct Service {
    /// The table file as given.
    pub table: PathBuf,
    /// The table's `service` (CloudEvents `ce-source` of what it publishes).
    pub name: String,
    /// The table's channels, in table order.
    pub channels: Vec<Channel>,
    /// Every integration event the table publishes or consumes, once per `ce-type` (the first
    /// occurrence wins; a published and a consumed event of one `ce-type` have the same proto
    /// message, which the checks enforce for a table's own channels).
    pub events: Vec<Event>,
    /// The table's subscriptions, in table order.
    pub subscriptions: Vec<Subscription>,
    /// The compiled protos of the table (`protos:`).
    pub descriptors: DescriptorPool,
}

/// A channel: a subject prefix in one JetStream stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// Name in the table.
    pub name: String,
    /// NATS subject prefix (`<subject>.<event name>` is an event's subject).
    pub subject: String,
    /// JetStream stream name.
    pub stream: String,
}

/// An integration event of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Integration event name (the last subject token).
    pub name: String,
    /// Its CloudEvents `ce-type` (the name, or the row's `ce_type`).
    pub ce_type: String,
    /// The name of its channel.
    pub channel: String,
    /// Full name of its proto message, e.g. `ordering.v1.OrderCreated`.
    pub message: String,
}

/// A declared subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Name in the table.
    pub name: String,
    /// The channel consumed.
    pub channel: Channel,
    /// The durable consumer's name.
    pub durable: String,
    /// `ce-type`s of the events it takes, in table order.
    pub events: Vec<String>,
    /// Where it dead-letters (`delivery.dead_letter`), if anywhere.
    pub dead_letter: Option<Channel>,
}

impl Service {
    /// The event whose `ce-type` is `ce_type`.
    pub fn event(&self, ce_type: &str) -> Option<&Event> {
        self.events.iter().find(|event| event.ce_type == ce_type)
    }

    /// The proto message of the event whose `ce-type` is `ce_type`.
    pub fn message(&self, ce_type: &str) -> Option<MessageDescriptor> {
        self.event(ce_type)
            .and_then(|event| self.descriptors.get_message_by_name(&event.message))
    }

    /// The subscription named `name` (its table name or its durable consumer's name).
    pub fn subscription(&self, name: &str) -> Option<&Subscription> {
        self.subscriptions
            .iter()
            .find(|s| s.name == name || s.durable == name)
    }
}

/// Reads, compiles and checks the table at `path` (as [`analyze`] does) and returns its
/// [`Service`] view.
///
/// # Errors
///
/// [`Error::Io`] when the table cannot be read; [`Error::Invalid`] when it or its protos have
/// errors (every diagnostic, rendered with `file:line:column`).
pub fn load(path: &Path) -> Result<Service, Error> {
    let analysis = analyze(path)?;
    let model = analysis.model()?;
    let Some(protos) = &analysis.protos else {
        return Err(Error::Invalid {
            diagnostics: analysis.diagnostics.clone(),
            rendered: analysis.render(),
        });
    };
    Ok(from_model(path, model, protos.pool().clone()))
}

/// The view of a checked `model`.
fn from_model(path: &Path, model: &model::Model, descriptors: DescriptorPool) -> Service {
    let channel = |c: &model::Channel| Channel {
        name: c.name.clone(),
        subject: c.subject.clone(),
        stream: c.stream.clone(),
    };
    let mut events: Vec<Event> = Vec::new();
    let mut add = |event: Event| {
        if !events.iter().any(|e| e.ce_type == event.ce_type) {
            events.push(event);
        }
    };
    for domain in &model.events {
        for integration in &domain.integrations {
            add(Event {
                name: integration.name.clone(),
                ce_type: integration.ce_type.clone(),
                channel: integration.channel.clone(),
                message: integration.message.full_name.clone(),
            });
        }
    }
    let mut subscriptions = Vec::new();
    for subscription in &model.subscriptions {
        for event in &subscription.events {
            add(Event {
                name: event.name.clone(),
                ce_type: event.ce_type.clone(),
                channel: subscription.channel.clone(),
                message: event.message.full_name.clone(),
            });
        }
        let Some(consumed) = model
            .channels
            .iter()
            .find(|c| c.name == subscription.channel)
        else {
            continue; // the checks guarantee the channel exists
        };
        subscriptions.push(Subscription {
            name: subscription.name.clone(),
            channel: channel(consumed),
            durable: subscription.durable.clone(),
            events: subscription
                .events
                .iter()
                .map(|e| e.ce_type.clone())
                .collect(),
            dead_letter: subscription.delivery.dead_letter.as_ref().map(channel),
        });
    }
    Service {
        table: path.to_path_buf(),
        name: model.service.clone(),
        channels: model.channels.iter().map(channel).collect(),
        events,
        subscriptions,
        descriptors,
    }
}
