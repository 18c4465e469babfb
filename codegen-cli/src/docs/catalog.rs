//! The event catalog (`events.md`): an overview table, what the service consumes (one section
//! per subscription: durable consumer, channel and stream, events and their proto messages,
//! delivery policy; only for a table with `subscriptions:`), the flowchart of the service (for
//! a large table: an overview, each channel in parts and one sequence diagram per channel,
//! [`mermaid::split`]), the CloudEvents headers, then one section per integration event
//! published (in table order) with its subject, stream, producing domain event, consumers, a
//! table of its fields and where each value comes from, a sequence diagram (or a link to its
//! channel's) and an example payload.
//!
//! The text is the template `templates/docs/events.md` (with `events/subscription.md`,
//! `events/headers.md`, `events/event.md`); this module prepares its values, ready for
//! Markdown: code spans and table cells (`catalog/markdown.rs`), the field rows (`catalog/fields.rs`).

mod fields;
mod markdown;

use askama::Template;

use self::fields::{FieldRow, field_rows};
use self::markdown::{anchor, ce_type_note};
use super::consumed::{self, Consumed};
use super::proto_source::{leading_comment, message_summary};
use super::{DocsError, Peers, Published, internal_events, mermaid, streams};
use crate::model::Model;

pub(crate) use self::markdown::Fenced;
pub use self::markdown::{cell, code};

/// The event catalog of the integration events `published` by the table of `model` and of
/// its subscriptions (`consumed`).
///
/// # Errors
/// [`DocsError`] when an example payload cannot be built or the model and the protos disagree
/// (a bug).
pub fn render(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    peers: &Peers,
) -> Result<String, DocsError> {
    let service = &model.service;
    let flowcharts = flowcharts(model, published, consumed, peers)?;
    let per_channel = flowcharts.len() > 1;
    let channel_sequences = if per_channel {
        channel_sequences(model, published, peers)?
    } else {
        Vec::new()
    };
    let catalog = Catalog {
        table: model.table_name.clone(),
        service: service.clone(),
        service_code: code(service),
        service_cell: cell(&code(service)),
        table_code: code(&model.table_name),
        what: match (published.is_empty(), consumed.is_empty()) {
            (_, true) => "publishes on",
            (true, false) => "consumes from",
            (false, false) => "publishes on and consumes from",
        },
        asyncapi: super::ASYNCAPI_FILE,
        overview: published.iter().map(OverviewRow::of).collect(),
        internal: internal(model),
        streams: stream_rows(published),
        consumers: consumer_rows(published, peers),
        nobody: peers.nobody(),
        consumed: consumed
            .iter()
            .map(|c| SubscriptionView::of(c, peers))
            .collect::<Result<_, _>>()?,
        publishes: publishes(model, published, consumed),
        flowcharts,
        max_events: mermaid::split::MAX_EVENTS_PER_FLOWCHART,
        channel_sequences,
        own_types: own_types(published, consumed),
        events: published
            .iter()
            .map(|p| EventView::of(model, p, per_channel, peers))
            .collect::<Result<_, _>>()?,
    };
    Ok(catalog.render()?)
}

/// The pictures of the flow of the service.
fn flowcharts(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    peers: &Peers,
) -> Result<Vec<FlowchartView>, DocsError> {
    Ok(
        mermaid::split::flowcharts(model, published, consumed, peers)?
            .into_iter()
            .map(|f| FlowchartView {
                title: f.title,
                diagram: Fenced::new(f.text),
            })
            .collect::<Vec<_>>(),
    )
}

/// For a split flow: the sequence diagram of each channel the table publishes on.
fn channel_sequences(
    model: &Model,
    published: &[Published<'_>],
    peers: &Peers,
) -> Result<Vec<ChannelSequence>, DocsError> {
    mermaid::split::published_channels(published)
        .into_iter()
        .map(|channel| {
            Ok(ChannelSequence {
                name: channel.name.clone(),
                code: code(&channel.name),
                diagram: Fenced::new(mermaid::split::channel_sequence(model, channel, peers)?),
            })
        })
        .collect::<Result<_, DocsError>>()
}

/// The domain events of `model` that stay inside the service, as code spans, if any.
fn internal(model: &Model) -> Option<String> {
    let internal = internal_events(model);
    (!internal.is_empty()).then(|| {
        let names: Vec<String> = internal.iter().map(|n| code(n)).collect();
        names.join(", ")
    })
}

/// Per stream published on: the stream (with its replicas when more than 1) and its subject
/// filters, as table cells.
fn stream_rows(published: &[Published<'_>]) -> Vec<(String, String)> {
    streams(published)
        .iter()
        .map(|(stream, subjects)| {
            let subjects: Vec<String> = subjects.iter().map(|s| cell(&code(s))).collect();
            let replicas = published
                .iter()
                .filter(|p| &p.channel.stream == stream)
                .map(|p| p.channel.replicas)
                .max()
                .unwrap_or(1);
            let name = match replicas {
                1 => cell(&code(stream)),
                n => format!("{} ({n} replicas)", cell(&code(stream))),
            };
            (name, subjects.join(", "))
        })
        .collect()
}

/// Whether some event published or consumed has a CloudEvents type other than its name.
fn own_types(published: &[Published<'_>], consumed: &[Consumed<'_>]) -> bool {
    published.iter().any(|p| p.event.ce_type != p.event.name)
        || consumed
            .iter()
            .flat_map(|c| &c.events)
            .any(|e| e.event.ce_type != e.event.name)
}

/// Whether the catalog shows the publishing side: always but for a table that only
/// consumes (no domain event).
pub(crate) fn publishes(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
) -> bool {
    consumed.is_empty() || !published.is_empty() || !model.events.is_empty()
}

/// The view of the event catalog (`templates/docs/events.md`), every value ready for
/// Markdown.
#[derive(Template)]
#[template(path = "docs/events.md", escape = "none")]
struct Catalog {
    /// The table's file name.
    table: String,
    /// The service name as it is.
    service: String,
    service_code: String,
    service_cell: String,
    table_code: String,
    /// What the service does on NATS: publishes on, consumes from, or both.
    what: &'static str,
    /// The file name of the AsyncAPI document.
    asyncapi: &'static str,
    /// One row per integration event published.
    overview: Vec<OverviewRow>,
    /// The domain events that stay inside the service, if any.
    internal: Option<String>,
    /// Per stream: the stream and its subject filters, as table cells.
    streams: Vec<(String, String)>,
    /// The subscriptions of the tables documented together that consume the channels
    /// published on; `None` for a table documented alone.
    consumers: Option<Vec<ConsumerRow>>,
    /// What is said when nobody consumes ([`Peers::nobody`]).
    nobody: &'static str,
    consumed: Vec<SubscriptionView>,
    /// Whether the publishing side is shown ([`publishes`]).
    publishes: bool,
    flowcharts: Vec<FlowchartView>,
    /// The most events one flowchart draws.
    max_events: usize,
    /// For a split flow: one sequence diagram per channel.
    channel_sequences: Vec<ChannelSequence>,
    /// Whether some event has a CloudEvents type other than its name.
    own_types: bool,
    events: Vec<EventView>,
}

/// One picture of the flow.
struct FlowchartView {
    title: Option<String>,
    diagram: Fenced,
}

/// The sequence diagram of one event of a channel, for a split flow.
struct ChannelSequence {
    name: String,
    code: String,
    diagram: Fenced,
}

/// A row of the overview table.
struct OverviewRow {
    name: String,
    anchor: String,
    /// The event's CloudEvents type, when it is not its name.
    note: String,
    subject: String,
    stream: String,
    message: String,
    domain: String,
}

impl OverviewRow {
    /// The row of `p`.
    fn of(p: &Published<'_>) -> OverviewRow {
        OverviewRow {
            name: cell(&p.event.name),
            anchor: anchor(&p.event.name),
            note: cell(&ce_type_note(&p.event.name, &p.event.ce_type)),
            subject: cell(&code(&p.subject)),
            stream: cell(&code(&p.channel.stream)),
            message: cell(&code(p.message.full_name())),
            domain: cell(&code(&p.domain.name)),
        }
    }
}

/// A subscription of another table consuming a channel published on, as table cells.
struct ConsumerRow {
    service: String,
    subscription: String,
    durable: String,
    channel: String,
    events: String,
}

/// The subscriptions of the tables documented together that consume the channels of
/// `published`, in the order of the channels, then of the tables; `None` for a table
/// documented alone.
fn consumer_rows(published: &[Published<'_>], peers: &Peers) -> Option<Vec<ConsumerRow>> {
    if !peers.together {
        return None;
    }
    let rows = mermaid::split::published_channels(published)
        .into_iter()
        .flat_map(|channel| {
            peers.of_channel(&channel.name).into_iter().map(|c| {
                let events: Vec<String> = c.events.iter().map(|e| code(e)).collect();
                ConsumerRow {
                    service: cell(&code(&c.service)),
                    subscription: cell(&code(&c.subscription)),
                    durable: cell(&code(&c.durable)),
                    channel: cell(&code(&channel.name)),
                    events: cell(&events.join(", ")),
                }
            })
        })
        .collect();
    Some(rows)
}

/// The consumers of one event as Markdown: `` `search` (durable `search-orders`) ``, or
/// what [`Peers::nobody`] says.
fn event_consumers(peers: &Peers, channel: &str, event: &str) -> String {
    let consumers: Vec<String> = peers
        .of_event(channel, event)
        .into_iter()
        .map(|c| {
            format!(
                "{} (durable consumer {})",
                code(&c.service),
                code(&c.durable)
            )
        })
        .collect();
    if consumers.is_empty() {
        peers.nobody().to_owned()
    } else {
        consumers.join(", ")
    }
}

/// A subscription's section (`templates/docs/events/subscription.md`).
struct SubscriptionView {
    name: String,
    /// The services publishing what it receives, among the tables documented together.
    producers: Option<String>,
    durable: String,
    channel: String,
    subjects: String,
    stream: String,
    handler_trait: String,
    router: String,
    event_enum: String,
    /// The delivery policy: what, and how.
    delivery: Vec<(&'static str, String)>,
    events: Vec<ConsumedRow>,
    diagram: Fenced,
}

/// A row of a subscription's events table.
struct ConsumedRow {
    name: String,
    /// The event's CloudEvents type, when it is not its name.
    note: String,
    subject: String,
    message: String,
    method: String,
    description: String,
}

impl SubscriptionView {
    /// The section of `c`.
    fn of(c: &Consumed<'_>, peers: &Peers) -> Result<SubscriptionView, DocsError> {
        let events = c
            .events
            .iter()
            .map(|e| ConsumedRow {
                name: cell(&code(&e.event.name)),
                note: cell(&ce_type_note(&e.event.name, &e.event.ce_type)),
                subject: cell(&code(&e.subject)),
                message: cell(&format!(
                    "{} ({})",
                    code(e.message.full_name()),
                    code(e.message.parent_file().name())
                )),
                method: cell(&code(&e.handler_method())),
                description: cell(&message_summary(&e.message).unwrap_or_default()),
            })
            .collect();
        let producers: Vec<String> = peers
            .producers(&c.subscription.name)
            .into_iter()
            .map(code)
            .collect();
        Ok(SubscriptionView {
            name: code(&c.subscription.name),
            producers: peers.together.then(|| {
                if producers.is_empty() {
                    "none among the tables documented together".to_owned()
                } else {
                    producers.join(", ")
                }
            }),
            durable: code(&c.subscription.durable),
            channel: code(&c.channel.name),
            subjects: code(&format!("{}.>", c.channel.subject)),
            stream: code(&c.channel.stream),
            handler_trait: code(&c.handler_trait()),
            router: code(&c.router()),
            event_enum: code(&c.event_enum()),
            delivery: consumed::delivery(&c.subscription.delivery, None),
            events,
            diagram: Fenced::new(mermaid::delivery_sequence(c)?),
        })
    }
}

/// The section of an integration event published (`templates/docs/events/event.md`).
struct EventView {
    name: String,
    /// The proto message's comment, line by line.
    comment: Vec<String>,
    subject: String,
    ce_type: String,
    stream: String,
    channel: String,
    subjects: String,
    message: String,
    file: String,
    domain: String,
    domain_type: String,
    /// Who consumes it, Markdown.
    consumers: String,
    fields: Vec<FieldRow>,
    /// Its sequence diagram; `None` for a split flow (the channel's is linked).
    diagram: Option<Fenced>,
    /// The anchor of the channel's sequence diagram.
    sequence_anchor: String,
    example: Fenced,
}

impl EventView {
    /// The section of `p`; with `per_channel`, its sequence diagram is its channel's
    /// (linked), not its own.
    fn of(
        model: &Model,
        p: &Published<'_>,
        per_channel: bool,
        peers: &Peers,
    ) -> Result<EventView, DocsError> {
        let mut fields = Vec::new();
        field_rows(&mut fields, &p.message, &p.event.fields, "", "")?;
        let diagram = if per_channel {
            None
        } else {
            Some(Fenced::new(mermaid::sequence(model, p, peers)?))
        };
        let example = super::example_payload::render(&p.message, &p.event.fields, &p.domain.name)?;
        Ok(EventView {
            name: p.event.name.clone(),
            comment: leading_comment(&p.message.parent_file(), p.message.path())
                .map(|c| c.lines().map(str::to_owned).collect())
                .unwrap_or_default(),
            subject: code(&p.subject),
            ce_type: code(&p.event.ce_type),
            stream: code(&p.channel.stream),
            channel: code(&p.channel.name),
            subjects: code(&format!("{}.>", p.channel.subject)),
            message: code(p.message.full_name()),
            file: code(p.message.parent_file().name()),
            domain: code(&p.domain.name),
            domain_type: code(&p.event.domain_type),
            consumers: event_consumers(peers, &p.channel.name, &p.event.name),
            fields,
            diagram,
            sequence_anchor: mermaid::split::channel_sequence_anchor(&p.channel.name),
            example: Fenced::new(example),
        })
    }
}
