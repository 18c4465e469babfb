//! The flowchart of a large table, in several pictures: an overview (per channel, one node
//! for all its handlers) and, per channel, the flow of its events in parts of at most
//! [`MAX_EVENTS_PER_FLOWCHART`] events. Each picture stays under [`MAX_DIAGRAM_CHARS`],
//! well under Mermaid's `maxTextSize` ([`MERMAID_MAX_TEXT_SIZE`]), and stays readable.
//!
//! A table whose whole flowchart fits ([`super::flowchart`]: at most
//! [`MAX_EVENTS_PER_FLOWCHART`] events published and [`MAX_DIAGRAM_CHARS`] characters) keeps
//! its one picture.

use std::fmt::Write as _;

use super::{consuming_edges, consuming_nodes, consuming_streams, text};
use crate::docs::consumed::Consumed;
use crate::docs::{Published, internal_events, streams};
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
/// Never in practice (writing into a `String`).
pub fn flowcharts(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
) -> Result<Vec<Flowchart>, std::fmt::Error> {
    let whole = super::flowchart(model, published, consumed)?;
    if published.len() <= MAX_EVENTS_PER_FLOWCHART && whole.len() <= MAX_DIAGRAM_CHARS {
        return Ok(vec![Flowchart {
            title: None,
            text: whole,
        }]);
    }
    let channels = channels(published);
    let mut out = vec![Flowchart {
        title: Some("Overview: the channels".to_owned()),
        text: overview(model, published, consumed, &channels)?,
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
) -> Result<Vec<Vec<(usize, &'p Published<'a>)>>, std::fmt::Error> {
    let count = events.len().div_ceil(MAX_EVENTS_PER_FLOWCHART).max(1);
    let size = events.len().div_ceil(count).max(1);
    let mut out: Vec<Vec<(usize, &Published<'_>)>> = Vec::new();
    let mut current: Vec<(usize, &Published<'_>)> = Vec::new();
    let mut chars = 0;
    for &(index, p) in events {
        let mut one = String::new();
        event_lines(&mut one, index, p)?;
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
fn event_lines(out: &mut String, index: usize, p: &Published<'_>) -> Result<(), std::fmt::Error> {
    writeln!(
        out,
        "    d{index}([\"{}<br/>domain event\"])",
        text(&p.domain.name)
    )?;
    writeln!(
        out,
        "    h{index}[\"{} handler<br/>to {}\"]",
        text(&p.event.name),
        text(p.message.full_name())
    )?;
    writeln!(out, "  d{index} --> dispatcher")?;
    writeln!(
        out,
        "  dispatcher -- \"{}\" --> h{index}",
        text(&p.domain.name)
    )?;
    writeln!(out, "  h{index} -- \"{}\" --> publisher", text(&p.subject))?;
    Ok(())
}

/// The overview: the domain events (how many), the dispatcher, one node per channel for its
/// handlers, the publisher, the streams, the consumers and the subscriptions.
fn overview(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    channels: &[&Channel],
) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    let internal = internal_events(model);
    let publishing = model.events.len() - internal.len();
    writeln!(out, "flowchart LR")?;
    writeln!(
        out,
        "  subgraph service[\"service {}\"]",
        text(&model.service)
    )?;
    writeln!(out, "    direction LR")?;
    writeln!(out, "    domain([\"{publishing} domain events\"])")?;
    if !internal.is_empty() {
        writeln!(
            out,
            "    internal([\"{} internal domain events\"])",
            internal.len()
        )?;
    }
    writeln!(out, "    dispatcher{{{{\"EventDispatcher\"}}}}")?;
    for (index, channel) in channels.iter().enumerate() {
        let count = published
            .iter()
            .filter(|p| p.channel.name == channel.name)
            .count();
        writeln!(
            out,
            "    g{index}[\"channel {}<br/>{count} integration handlers\"]",
            text(&channel.name)
        )?;
    }
    writeln!(out, "    publisher[[\"JetStreamPublisher\"]]")?;
    consuming_nodes(&mut out, consumed)?;
    writeln!(out, "  end")?;
    let streams = streams(published);
    consuming_streams(&mut out, &streams, consumed)?;
    writeln!(out, "  consumers[\"consumers<br/>none declared yet\"]")?;
    writeln!(out, "  domain --> dispatcher")?;
    if !internal.is_empty() {
        writeln!(out, "  internal -. internal .-> dispatcher")?;
    }
    for (index, channel) in channels.iter().enumerate() {
        writeln!(out, "  dispatcher --> g{index}")?;
        writeln!(
            out,
            "  g{index} -- \"{}\" --> publisher",
            text(&format!("{}.<event>", channel.subject))
        )?;
    }
    for index in 0..streams.len() {
        writeln!(out, "  publisher --> s{index}")?;
        writeln!(out, "  s{index} -.-> consumers")?;
    }
    consuming_edges(&mut out, &streams, consumed)?;
    Ok(out)
}

/// The flow of `events` of `channel`: their domain events, the dispatcher, their handlers,
/// the publisher and the channel's stream.
fn channel_part(
    model: &Model,
    channel: &Channel,
    events: &[(usize, &Published<'_>)],
) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(out, "flowchart LR")?;
    writeln!(
        out,
        "  subgraph service[\"service {}\"]",
        text(&model.service)
    )?;
    writeln!(out, "    direction LR")?;
    let mut domains: Vec<&str> = Vec::new();
    for (_, p) in events {
        if !domains.contains(&p.domain.name.as_str()) {
            domains.push(&p.domain.name);
        }
    }
    for (index, name) in domains.iter().enumerate() {
        writeln!(out, "    d{index}([\"{}<br/>domain event\"])", text(name))?;
    }
    writeln!(out, "    dispatcher{{{{\"EventDispatcher\"}}}}")?;
    for (index, p) in events {
        writeln!(
            out,
            "    h{index}[\"{} handler<br/>to {}\"]",
            text(&p.event.name),
            text(p.message.full_name())
        )?;
    }
    writeln!(out, "    publisher[[\"JetStreamPublisher\"]]")?;
    writeln!(out, "  end")?;
    writeln!(
        out,
        "  s0[(\"stream {}<br/>{}\")]",
        text(&channel.stream),
        text(&format!("{}.>", channel.subject))
    )?;
    for index in 0..domains.len() {
        writeln!(out, "  d{index} --> dispatcher")?;
    }
    for (index, p) in events {
        writeln!(
            out,
            "  dispatcher -- \"{}\" --> h{index}",
            text(&p.domain.name)
        )?;
        writeln!(out, "  h{index} -- \"{}\" --> publisher", text(&p.subject))?;
    }
    writeln!(out, "  publisher --> s0")?;
    Ok(out)
}

/// The sequence diagram of one event of `channel`, for a catalog whose flow is split: every
/// event of a channel goes the same way, so one picture per channel replaces one per event
/// (hundreds of identical pictures say no more, and take minutes to render).
///
/// # Errors
/// Never in practice (writing into a `String`).
pub fn channel_sequence(model: &Model, channel: &Channel) -> Result<String, std::fmt::Error> {
    super::publish_sequence(&super::PublishLabels {
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
    })
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
