//! The AsyncAPI 3.0 document of a table's integration events (`asyncapi.yaml`).
//!
//! - `servers.nats`: a placeholder NATS server (`localhost:4222`): the table does not say where
//!   the server runs, the team edits it or overrides it in its tooling;
//! - one channel per integration event, keyed by its name, at its subject
//!   (`<channel subject>.<integration event name>`), with the JetStream stream in
//!   `x-jetstream-stream` (and its replicas in `x-jetstream-replicas` when not 1); an event
//!   that is published and consumed has one channel;
//! - one `send` operation per integration event published (`send<Event>`), for the producing
//!   service;
//! - one `receive` operation per event a subscription receives (`receive<Event>`), naming the
//!   durable consumer and the delivery policy in its text and, machine-readable, in
//!   `x-eventmap-subscription`, `x-jetstream-durable`, `x-eventmap-delivery` (the settings the
//!   table writes; the rest are the runtime's defaults) and `x-dead-letter-subject` /
//!   `x-dead-letter-stream`;
//! - one message per integration event in `components.messages`, named by its `ce-type`
//!   (titled by its integration event name): the CloudEvents 1.0
//!   binary-mode headers as a JSON Schema (`ce-type` as a constant, and `ce-source` too for the
//!   events the service publishes: it is another service for those it consumes) and the
//!   protobuf payload as a multi-format schema (`application/vnd.google.protobuf;version=3`,
//!   or `version=2` for a payload written in proto2) whose schema is a self-contained `.proto`
//!   text: the message and every type it uses, without imports (see
//!   [`super::payload_schema`]), and the message's full proto name in `x-protobuf-message`;
//!   its contract's fingerprint as `ce-dataschema` (a constant header) and in
//!   `x-eventmap-dataschema` (`eventmap:<message>#<fingerprint>`).
//!
//! Written with serde-saphyr's serializer from typed structs, in table order.

mod headers;
mod schema;
mod texts;

use indexmap::IndexMap;
use prost_reflect::MessageDescriptor;

use askama::Template;

use self::headers::headers;
use self::schema::{
    Channel, Components, ConsumerExtension, DeliveryExtension, Document, Info, Message,
    MultiFormatSchema, Operation, ReceiveExtensions, Ref, Server,
};
use self::texts::{ChannelText, InfoText, MessageText, ReceiveText, SendText};

use super::consumed::{self, Consumed, ConsumedEvent};
use super::payload_schema::payload_schema;
use super::proto_source::{leading_comment, message_summary};
use super::{DocsError, Peers, Published};
use crate::model::{Channel as ModelChannel, Model};

/// The AsyncAPI version written.
pub const ASYNCAPI_VERSION: &str = "3.0.0";
/// The content type of every message (`ce-datacontenttype`).
pub const CONTENT_TYPE: &str = "application/protobuf";
/// The host of the placeholder server.
pub const PLACEHOLDER_HOST: &str = "localhost:4222";

/// The AsyncAPI document of the integration events `published` by the table of `model` and
/// of those its subscriptions receive (`consumed`), as YAML.
///
/// # Errors
/// [`DocsError::Yaml`] when serialization fails.
pub fn render(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    peers: &Peers,
) -> Result<String, DocsError> {
    let document = document(model, published, consumed, peers)?;
    Ok(serde_saphyr::to_string(&document)?)
}

fn document(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    peers: &Peers,
) -> Result<Document, DocsError> {
    let service = &model.service;
    let mut receiving = Receiving::published(model, published, peers)?;
    for c in consumed {
        for e in &c.events {
            receiving.receive(model, c, e, peers)?;
        }
    }
    let Receiving {
        channels,
        operations,
        messages,
        ..
    } = receiving;
    Ok(Document {
        asyncapi: ASYNCAPI_VERSION,
        info: Info {
            title: format!("{service} integration events"),
            version: "1.0.0",
            description: description(model, published, consumed, peers)?,
        },
        default_content_type: CONTENT_TYPE,
        servers: servers(),
        channels,
        operations,
        components: Components { messages },
    })
}

/// The placeholder NATS server.
fn servers() -> IndexMap<String, Server> {
    IndexMap::from([(
        "nats".to_owned(),
        Server {
            host: PLACEHOLDER_HOST,
            protocol: "nats",
            description: "Placeholder: the mapping table does not say where the NATS \
                          server runs. Replace the host with your deployment's (or override \
                          it in your AsyncAPI tooling)."
                .to_owned(),
        },
    )])
}

/// The `send` operation of published event `p`, by `service`.
fn send_operation(service: &str, p: &Published<'_>, peers: &Peers) -> Result<Operation, DocsError> {
    let name = &p.event.name;
    let consumers = peers.of_event(&p.channel.name, name);
    let named: Vec<String> = consumers
        .iter()
        .map(|c| format!("`{}` (durable consumer `{}`)", c.service, c.durable))
        .collect();
    Ok(Operation {
        action: "send",
        channel: Ref::to(format!("#/channels/{name}")),
        title: format!("{service} publishes {name}"),
        summary: format!(
            "Published by `{service}` for every `{}` domain event.",
            p.domain.name
        ),
        description: SendText {
            domain: &p.domain.name,
            message: p.message.full_name(),
            subject: &p.subject,
            consumers: peers.together.then(|| {
                if named.is_empty() {
                    peers.nobody().to_owned()
                } else {
                    named.join(", ")
                }
            }),
        }
        .render()?,
        messages: vec![Ref::to(format!("#/channels/{name}/messages/{name}"))],
        extensions: None,
        consumers: consumers
            .iter()
            .map(|c| ConsumerExtension {
                service: c.service.clone(),
                subscription: c.subscription.clone(),
                durable: c.durable.clone(),
            })
            .collect(),
        producers: Vec::new(),
    })
}

/// The description of the document: what the service publishes, consumes, or both.
fn description(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    peers: &Peers,
) -> Result<String, DocsError> {
    let mut consumers: Vec<String> = Vec::new();
    for channel in super::mermaid::split::published_channels(published) {
        for c in peers.of_channel(&channel.name) {
            let named = format!("`{}`", c.service);
            if !consumers.contains(&named) {
                consumers.push(named);
            }
        }
    }
    let mut producers: Vec<String> = Vec::new();
    for c in consumed {
        for p in peers.producers(&c.subscription.name) {
            let named = format!("`{p}`");
            if !producers.contains(&named) {
                producers.push(named);
            }
        }
    }
    let peers = peers.together.then(|| {
        let mut parts = Vec::new();
        if !published.is_empty() {
            parts.push(if consumers.is_empty() {
                "no service documented with it consumes its events".to_owned()
            } else {
                format!("{} consume its events", consumers.join(", "))
            });
        }
        if !consumed.is_empty() {
            parts.push(if producers.is_empty() {
                "no service documented with it publishes what it consumes".to_owned()
            } else {
                format!("it consumes events of {}", producers.join(", "))
            });
        }
        format!(
            "Among the tables documented together, {}.",
            parts.join("; ")
        )
    });
    let consumes = match (consumed.is_empty(), published.is_empty()) {
        (true, _) => None,
        (false, true) => Some("consumes from"),
        (false, false) => Some("publishes on and consumes from"),
    };
    let text = InfoText {
        service: &model.service,
        table: &model.table_name,
        consumes,
        peers,
    };
    Ok(text.render()?)
}

/// The document under construction while the received events are added: they reuse the
/// channel, and the message, of an event the table publishes on the same subject, and the
/// message of an event another subscription receives too.
struct Receiving {
    channels: IndexMap<String, Channel>,
    operations: IndexMap<String, Operation>,
    messages: IndexMap<String, Message>,
    /// (event name, full proto name) of the messages of received events -> their key.
    consumed_messages: IndexMap<(String, String), String>,
    /// How many channels (the first ones) are those of published events.
    published_channels: usize,
}

impl Receiving {
    /// The channels, `send` operations and messages of the integration events `published`
    /// by the table of `model`.
    fn published(
        model: &Model,
        published: &[Published<'_>],
        peers: &Peers,
    ) -> Result<Self, DocsError> {
        let service = &model.service;
        let mut channels = IndexMap::new();
        let mut operations = IndexMap::new();
        let mut messages = IndexMap::new();
        for p in published {
            let name = &p.event.name;
            let message_ref = format!("#/components/messages/{name}");
            channels.insert(
                name.clone(),
                event_channel(
                    name,
                    service,
                    p.channel,
                    &p.subject,
                    true,
                    IndexMap::from([(name.clone(), Ref::to(message_ref))]),
                )?,
            );
            operations.insert(format!("send{name}"), send_operation(service, p, peers)?);
            messages.insert(name.clone(), message(model, p)?);
        }
        Ok(Self {
            channels,
            operations,
            messages,
            consumed_messages: IndexMap::new(),
            published_channels: published.len(),
        })
    }

    /// Adds the channel (unless there is one at its subject), the message (unless it is
    /// there) and the `receive` operation of event `e` of subscription `c`.
    fn receive(
        &mut self,
        model: &Model,
        c: &Consumed<'_>,
        e: &ConsumedEvent<'_>,
        peers: &Peers,
    ) -> Result<(), DocsError> {
        let name = &e.event.name;
        let existing = self
            .channels
            .iter()
            .position(|(_, channel)| channel.address == e.subject);
        let message_key = self.message_key(model, c, e, existing)?;
        let channel_key = self.channel_key(&model.service, c, e, existing)?;
        if let Some(channel) = self.channels.get_mut(&channel_key) {
            channel
                .messages
                .entry(message_key.clone())
                .or_insert_with(|| Ref::to(format!("#/components/messages/{message_key}")));
        }
        let operation_key = unique_key(
            &self.operations,
            &format!("receive{name}"),
            &c.subscription.name,
        );
        self.operations.insert(
            operation_key,
            receive_operation(&model.service, c, e, (&channel_key, &message_key), peers)?,
        );
        Ok(())
    }

    /// The key of the message of event `e` of subscription `c`: the table's own published
    /// message on the channel at index `existing` when it is the same proto message, else
    /// that of a received event with the same name and message, else a new one.
    fn message_key(
        &mut self,
        model: &Model,
        c: &Consumed<'_>,
        e: &ConsumedEvent<'_>,
        existing: Option<usize>,
    ) -> Result<String, DocsError> {
        let name = &e.event.name;
        let full_name = e.message.full_name();
        // The table's own event: its published message, when it is the same proto message.
        let own = existing
            .filter(|index| *index < self.published_channels)
            .and_then(|index| self.channels.get_index(index))
            .and_then(|(_, channel)| channel.messages.get_index(0))
            .map(|(key, _)| key.clone())
            .filter(|key| {
                self.messages
                    .get(key)
                    .is_some_and(|m| m.protobuf_message == full_name)
            });
        Ok(match own {
            Some(key) => key,
            None => match self
                .consumed_messages
                .get(&(name.clone(), full_name.to_owned()))
            {
                Some(key) => key.clone(),
                None => {
                    let key = unique_key(&self.messages, name, &c.subscription.name);
                    self.messages
                        .insert(key.clone(), received_message(model, e)?);
                    self.consumed_messages
                        .insert((name.clone(), full_name.to_owned()), key.clone());
                    key
                }
            },
        })
    }

    /// The key of the channel of event `e` of subscription `c`: the one at index `existing`,
    /// else a new one received by `service`.
    fn channel_key(
        &mut self,
        service: &str,
        c: &Consumed<'_>,
        e: &ConsumedEvent<'_>,
        existing: Option<usize>,
    ) -> Result<String, DocsError> {
        let name = &e.event.name;
        Ok(
            match existing.and_then(|index| self.channels.get_index(index)) {
                Some((key, _)) => key.clone(),
                None => {
                    let key = unique_key(&self.channels, name, &c.channel.name);
                    self.channels.insert(
                        key.clone(),
                        event_channel(
                            name,
                            service,
                            c.channel,
                            &e.subject,
                            false,
                            IndexMap::new(),
                        )?,
                    );
                    key
                }
            },
        )
    }
}

/// The `receive` operation of event `e` of subscription `c` by `service`, on channel
/// `channel_key` with message `message_key`.
fn receive_operation(
    service: &str,
    c: &Consumed<'_>,
    e: &ConsumedEvent<'_>,
    (channel_key, message_key): (&str, &str),
    peers: &Peers,
) -> Result<Operation, DocsError> {
    let producers: Vec<String> = peers
        .producers(&c.subscription.name)
        .into_iter()
        .map(str::to_owned)
        .collect();
    let name = &e.event.name;
    let durable = &c.subscription.durable;
    let dead_letter_token = consumed::dead_letter_token(&e.event.ce_type);
    let delivery: Vec<String> =
        consumed::delivery(&c.subscription.delivery, Some(&dead_letter_token))
            .into_iter()
            .map(|(what, how)| format!("{what}: {how}"))
            .collect();
    Ok(Operation {
        action: "receive",
        channel: Ref::to(format!("#/channels/{channel_key}")),
        title: format!("{service} receives {name}"),
        summary: format!(
            "Received by `{service}` through the durable consumer `{durable}` \
             (subscription `{}`).",
            c.subscription.name
        ),
        description: ReceiveText {
            durable,
            stream: &c.channel.stream,
            event: name,
            subject: &e.subject,
            router: c.router(),
            message: e.message.full_name(),
            handler_trait: c.handler_trait(),
            method: e.handler_method(),
            delivery: delivery.join("; "),
            producers: peers.together.then(|| {
                if producers.is_empty() {
                    peers.nobody().to_owned()
                } else {
                    let named: Vec<String> = producers.iter().map(|p| format!("`{p}`")).collect();
                    named.join(", ")
                }
            }),
        }
        .render()?,
        messages: vec![Ref::to(format!(
            "#/channels/{channel_key}/messages/{message_key}"
        ))],
        extensions: Some(receive_extensions(c, &dead_letter_token)),
        consumers: Vec::new(),
        producers,
    })
}

/// The machine-readable subscription settings of a `receive` operation of subscription `c`,
/// for the event whose dead-letter token is `dead_letter_token`.
fn receive_extensions(c: &Consumed<'_>, dead_letter_token: &str) -> ReceiveExtensions {
    let policy = &c.subscription.delivery;
    ReceiveExtensions {
        subscription: c.subscription.name.clone(),
        durable: c.subscription.durable.clone(),
        delivery: DeliveryExtension {
            deliver: if policy.deliver_new { "new" } else { "all" },
            ack_wait_ms: policy.ack_wait_ms,
            max_deliver: policy.max_deliver,
            backoff_ms: policy.backoff_ms.clone(),
        },
        dead_letter_subject: c.dead_letter_subject(dead_letter_token),
        dead_letter_stream: policy.dead_letter.as_ref().map(|d| d.stream.clone()),
    }
}

/// `base` if `map` has no such key, else `<base>_<qualifier>`, else that with a number.
fn unique_key<V>(map: &IndexMap<String, V>, base: &str, qualifier: &str) -> String {
    if !map.contains_key(base) {
        return base.to_owned();
    }
    let qualified = format!("{base}_{qualifier}");
    let mut key = qualified.clone();
    let mut n = 2;
    while map.contains_key(&key) {
        key = format!("{qualified}_{n}");
        n += 1;
    }
    key
}

/// The message of an event a subscription receives.
fn received_message(model: &Model, e: &ConsumedEvent<'_>) -> Result<Message, DocsError> {
    message_of(
        model,
        &e.event.name,
        &e.event.ce_type,
        &e.message,
        &model.service,
        None,
        &e.event.name,
    )
}

/// The message of an integration event the table publishes.
fn message(model: &Model, p: &Published<'_>) -> Result<Message, DocsError> {
    message_of(
        model,
        &p.event.name,
        &p.event.ce_type,
        &p.message,
        &model.service,
        Some(&p.domain.name),
        &p.domain.name,
    )
}

/// The message of integration event `event` (CloudEvents type `ce_type`) carried as
/// `payload`, published by `service` from domain event `domain` or, when `domain` is `None`,
/// by another service and received by `service`; `fallback` names the summary when the proto
/// message has no comment.
fn message_of(
    model: &Model,
    event: &str,
    ce_type: &str,
    payload: &MessageDescriptor,
    service: &str,
    domain: Option<&str>,
    fallback: &str,
) -> Result<Message, DocsError> {
    let full_name = payload.full_name();
    let dataschema = model
        .contract(full_name)
        .map(|contract| contract.dataschema.clone());
    let file = payload.parent_file();
    let schema = payload_schema(payload);
    let description = MessageText {
        comment: leading_comment(&file, payload.path()),
        domain,
        receiver: service,
        message: full_name,
        file: file.name(),
        other_types: schema.types.len().saturating_sub(1),
    }
    .render()?;
    Ok(Message {
        name: ce_type.to_owned(),
        title: event.to_owned(),
        summary: message_summary(payload).unwrap_or_else(|| format!("{fallback} as {full_name}")),
        description,
        content_type: CONTENT_TYPE,
        headers: headers(
            domain.map(|_| service),
            event,
            ce_type,
            dataschema.as_deref(),
        ),
        payload: MultiFormatSchema {
            schema_format: schema.schema_format(),
            schema: schema.text,
        },
        protobuf_message: full_name.to_owned(),
        dataschema,
    })
}

/// The AsyncAPI channel of event `name` on the table's `channel`, at `address` (the event's
/// subject), carrying `messages`: `published` by `service`, or received by it from another
/// service (a subscription's receive operation then adds its message afterwards).
fn event_channel(
    name: &str,
    service: &str,
    channel: &ModelChannel,
    address: &str,
    published: bool,
    messages: IndexMap<String, Ref>,
) -> Result<Channel, DocsError> {
    Ok(Channel {
        address: address.to_owned(),
        title: format!("{name} ({})", channel.name),
        description: ChannelText {
            published,
            event: name,
            service,
            channel: &channel.name,
            subject: &channel.subject,
            stream: &channel.stream,
        }
        .render()?,
        messages,
        jetstream_stream: channel.stream.clone(),
        jetstream_replicas: (channel.replicas != 1).then_some(channel.replicas),
    })
}
