//! The flowchart of a large table, in several pictures: an overview (per channel, one node
//! for all its handlers) and, per channel, the flow of its events in parts of at most
//! [`MAX_EVENTS_PER_FLOWCHART`] events. Each picture stays under [`MAX_DIAGRAM_CHARS`],
//! well under Mermaid's `maxTextSize` ([`MERMAID_MAX_TEXT_SIZE`]), and stays readable.
//!
//! A table whose whole flowchart fits ([`super::flowchart`]: at most
//! [`MAX_EVENTS_PER_FLOWCHART`] events published and [`MAX_DIAGRAM_CHARS`] characters) keeps
//! its one picture.

use askama::Template;

use super::{ConsumingView, HandlerNode, text};
use crate::docs::consumed::Consumed;
use crate::docs::{DocsError, Peers, Published, internal_events, streams};
use crate::model::{Channel, Model};

/// Mermaid's default `maxTextSize`: a longer diagram renders as the picture "Maximum text
/// size in diagram exceeded" (and `mmdc` exits 0).
pub const MERMAID_MAX_TEXT_SIZE: usize = 50_000;
/// The most characters of a flowchart the catalog writes.
pub const MAX_DIAGRAM_CHARS: usize = 40_000;
/// The most integration events one flowchart draws.
pub const MAX_EVENTS_PER_FLOWCHART: usize = 50;

/// Characters kept for what a channel's picture has besides its events (the service, the
/// dispatcher, the publisher, the stream).
const HEADER_RESERVE: usize = 1_000;

/// One picture of the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flowchart {
    /// What it shows (`None`: the whole flow, the only picture).
    pub title: Option<String>,
    /// The Mermaid text.
    pub text: String,
}

/// The flowcharts of the service: the whole flow in one picture when it fits, else an
/// overview and the parts of each channel, in the order the table first names the channels.
///
/// # Errors
/// [`DocsError::Template`] when a template cannot be rendered (it can).
pub fn flowcharts(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    peers: &Peers,
) -> Result<Vec<Flowchart>, DocsError> {
    let whole = super::flowchart(model, published, consumed, peers)?;
    if published.len() <= MAX_EVENTS_PER_FLOWCHART && whole.len() <= MAX_DIAGRAM_CHARS {
        return Ok(vec![Flowchart {
            title: None,
            text: whole,
        }]);
    }
    let channels = channels(published);
    let mut out = vec![Flowchart {
        title: Some("Overview: the channels".to_owned()),
        text: overview(model, published, consumed, &channels, peers)?,
    }];
    for channel in channels {
        let events: Vec<(usize, &Published<'_>)> = published
            .iter()
            .enumerate()
            .filter(|(_, p)| p.channel.name == channel.name)
            .collect();
        let parts = parts(&events)?;
        let count = parts.len();
        for (index, part) in parts.into_iter().enumerate() {
            let title = if count == 1 {
                format!("Channel `{}`", channel.name)
            } else {
                format!("Channel `{}`, part {} of {count}", channel.name, index + 1)
            };
            out.push(Flowchart {
                title: Some(title),
                text: channel_part(model, channel, &part)?,
            });
        }
    }
    Ok(out)
}

/// The channels of `published`, in the order of their first event.
fn channels<'a>(published: &[Published<'a>]) -> Vec<&'a Channel> {
    let mut out: Vec<&Channel> = Vec::new();
    for p in published {
        if !out.iter().any(|c| c.name == p.channel.name) {
            out.push(p.channel);
        }
    }
    out
}

/// `events` (with their index in the table) cut into parts of about equal size, each of at
/// most [`MAX_EVENTS_PER_FLOWCHART`] events and, drawn, [`MAX_DIAGRAM_CHARS`] characters.
fn parts<'a, 'p>(
    events: &[(usize, &'p Published<'a>)],
) -> Result<Vec<Vec<(usize, &'p Published<'a>)>>, DocsError> {
    let count = events.len().div_ceil(MAX_EVENTS_PER_FLOWCHART).max(1);
    let size = events.len().div_ceil(count).max(1);
    let mut out: Vec<Vec<(usize, &Published<'_>)>> = Vec::new();
    let mut current: Vec<(usize, &Published<'_>)> = Vec::new();
    let mut chars = 0;
    for &(index, p) in events {
        let one = EventSize {
            h: HandlerNode::of((index, p)),
        }
        .render()?;
        if !current.is_empty()
            && (current.len() == size || chars + one.len() > MAX_DIAGRAM_CHARS - HEADER_RESERVE)
        {
            out.push(std::mem::take(&mut current));
            chars = 0;
        }
        chars += one.len();
        current.push((index, p));
    }
    if !current.is_empty() {
        out.push(current);
    }
    Ok(out)
}

/// Roughly what one event adds to a picture (its domain event, handler and edges), to size
/// the parts.
#[derive(Template)]
#[template(path = "docs/mermaid/event_size.mmd", escape = "none")]
struct EventSize {
    h: HandlerNode,
}

/// The overview: the domain events (how many), the dispatcher, one node per channel for its
/// handlers, the publisher, the streams, the consumers and the subscriptions.
fn overview(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    channels: &[&Channel],
    peers: &Peers,
) -> Result<String, DocsError> {
    let internal = internal_events(model).len();
    let overview = Overview {
        service: text(&model.service),
        publishing: model.events.len() - internal,
        internal,
        channels: channels
            .iter()
            .map(|channel| ChannelNode {
                name: text(&channel.name),
                events: published
                    .iter()
                    .filter(|p| p.channel.name == channel.name)
                    .count(),
                subjects: text(&format!("{}.<event>", channel.subject)),
            })
            .collect(),
        consuming: ConsumingView::of(&streams(published), consumed)
            .with_peers(published, consumed, peers),
    };
    Ok(overview.render()?)
}

/// The view of [`overview`], Mermaid text.
#[derive(Template)]
#[template(path = "docs/mermaid/overview.mmd", escape = "none")]
struct Overview {
    service: String,
    /// How many domain events publish.
    publishing: usize,
    /// How many domain events stay inside the service.
    internal: usize,
    channels: Vec<ChannelNode>,
    consuming: ConsumingView,
}

/// The node of a channel's handlers in the overview.
struct ChannelNode {
    name: String,
    /// How many events the channel has.
    events: usize,
    /// The label of its edge to the publisher.
    subjects: String,
}

/// The flow of `events` of `channel`: their domain events, the dispatcher, their handlers,
/// the publisher and the channel's stream.
fn channel_part(
    model: &Model,
    channel: &Channel,
    events: &[(usize, &Published<'_>)],
) -> Result<String, DocsError> {
    let mut domains: Vec<&str> = Vec::new();
    for (_, p) in events {
        if !domains.contains(&p.domain.name.as_str()) {
            domains.push(&p.domain.name);
        }
    }
    let part = ChannelPart {
        service: text(&model.service),
        domains: domains.into_iter().map(text).collect(),
        handlers: events.iter().map(|&e| HandlerNode::of(e)).collect(),
        stream: text(&channel.stream),
        subjects: text(&format!("{}.>", channel.subject)),
    };
    Ok(part.render()?)
}

/// The view of [`channel_part`], Mermaid text.
#[derive(Template)]
#[template(path = "docs/mermaid/channel_part.mmd", escape = "none")]
struct ChannelPart {
    service: String,
    /// The domain events of the part, in the order of their first event.
    domains: Vec<String>,
    handlers: Vec<HandlerNode>,
    stream: String,
    subjects: String,
}

/// The sequence diagram of one event of `channel`, for a catalog whose flow is split: every
/// event of a channel goes the same way, so one picture per channel replaces one per event
/// (hundreds of identical pictures say no more, and take minutes to render).
///
/// # Errors
/// [`DocsError::Template`] when the template cannot be rendered (it can).
pub fn channel_sequence(
    model: &Model,
    channel: &Channel,
    peers: &Peers,
) -> Result<String, DocsError> {
    let consumers: Vec<String> = peers
        .of_channel(&channel.name)
        .into_iter()
        .map(|c| c.service.clone())
        .collect();
    Ok(super::PublishLabels {
        service: text(&model.service),
        handler: "the event's integration handler".to_owned(),
        stream: text(&channel.stream),
        domain_event: "the domain event".to_owned(),
        aggregate_event: text("AggregateEvent<domain event>"),
        message: "the event's proto message".to_owned(),
        integration_message: text(&format!(
            "IntegrationMessage (ce-type = event name, ce-source {})",
            model.service
        )),
        publish: text(&format!(
            "publish on {}.<event name> (Nats-Msg-Id = ce-id)",
            channel.subject
        )),
        deliver: text(&format!("deliver {}.<event name>", channel.subject)),
        consumers: super::consumers_label(&consumers, peers),
    }
    .render()?)
}

/// The Markdown anchor of the heading `### One event on channel <name>` the catalog writes
/// above [`channel_sequence`].
pub fn channel_sequence_anchor(channel: &str) -> String {
    format!("one-event-on-channel-{}", channel.to_lowercase())
}

/// The channels of `published`, in the order of their first event (public for the catalog).
pub fn published_channels<'a>(published: &[Published<'a>]) -> Vec<&'a Channel> {
    channels(published)
}
