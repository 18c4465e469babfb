//! Mermaid diagrams of the flow, drawn for the table's actual events and channels: a
//! flowchart of the whole service (domain events -> dispatcher -> integration handlers ->
//! publisher -> streams -> consumers, and consumed streams -> durable consumers -> handlers
//! -> dead-letter streams), a sequence diagram per integration event published and one per
//! subscription.
//!
//! Node ids are generated (`d0`, `h0`, `s0`), never taken from the table, so no name can
//! clash with Mermaid's keywords; every text shown goes through [`text`].
//!
//! A large table's flowchart is drawn in several pictures ([`split::flowcharts`]): Mermaid
//! refuses a diagram longer than its `maxTextSize` (50,000 characters by default; the CLI
//! still exits 0, with an error picture).

pub mod split;

use std::fmt::Write as _;

use super::consumed::{self, Consumed};
use super::{Published, internal_events, streams};
use crate::model::Model;

/// `s` made safe inside a quoted Mermaid label or a sequence-diagram text: `#`, `"`, `;`,
/// `<`, `>` and `&` as Mermaid entity codes, line breaks as spaces.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            ';' => out.push_str("#59;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// The flowchart of the service: each domain event goes to the dispatcher, which hands it to
/// the integration handler of each of its integration events; each handler converts it into
/// its proto message and gives it to the publisher on its subject; the publisher puts it in
/// the channel's stream, which the consumers read. `internal` domain events are drawn ending
/// at the dispatcher. Each subscription (`consumed`) is drawn as its durable consumer, fed by
/// the stream of its channel with the subjects of its events, handing them to its handler,
/// and writing dead letters to its dead-letter stream; a table that only consumes (no domain
/// event) has no dispatcher, publisher or consumers drawn.
///
/// # Errors
/// Never in practice (writing into a `String`).
pub fn flowchart(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(out, "flowchart LR")?;
    writeln!(
        out,
        "  subgraph service[\"service {}\"]",
        text(&model.service)
    )?;
    writeln!(out, "    direction LR")?;
    if !super::catalog::publishes(model, published, consumed) {
        consuming_nodes(&mut out, consumed)?;
        writeln!(out, "  end")?;
        let streams = streams(published);
        consuming_streams(&mut out, &streams, consumed)?;
        consuming_edges(&mut out, &streams, consumed)?;
        return Ok(out);
    }
    let mut domain_ids = Vec::new();
    for (index, domain) in model.events.iter().enumerate() {
        let id = format!("d{index}");
        writeln!(
            out,
            "    {id}([\"{}<br/>domain event\"])",
            text(&domain.name)
        )?;
        domain_ids.push((domain.name.as_str(), id));
    }
    writeln!(out, "    dispatcher{{{{\"EventDispatcher\"}}}}")?;
    for (index, p) in published.iter().enumerate() {
        writeln!(
            out,
            "    h{index}[\"{} handler<br/>to {}\"]",
            text(&p.event.name),
            text(p.message.full_name())
        )?;
    }
    writeln!(out, "    publisher[[\"JetStreamPublisher\"]]")?;
    consuming_nodes(&mut out, consumed)?;
    writeln!(out, "  end")?;
    let streams = streams(published);
    consuming_streams(&mut out, &streams, consumed)?;
    writeln!(out, "  consumers[\"consumers<br/>none declared yet\"]")?;
    let internal = internal_events(model);
    for (name, id) in &domain_ids {
        if internal.contains(name) {
            writeln!(out, "  {id} -. internal .-> dispatcher")?;
        } else {
            writeln!(out, "  {id} --> dispatcher")?;
        }
    }
    for (index, p) in published.iter().enumerate() {
        writeln!(
            out,
            "  dispatcher -- \"{}\" --> h{index}",
            text(&p.domain.name)
        )?;
        writeln!(out, "  h{index} -- \"{}\" --> publisher", text(&p.subject))?;
    }
    for index in 0..streams.len() {
        writeln!(out, "  publisher --> s{index}")?;
        writeln!(out, "  s{index} -.-> consumers")?;
    }
    consuming_edges(&mut out, &streams, consumed)?;
    Ok(out)
}

/// Inside the service: per subscription its durable consumer (`c0`) and its handler (`r0`).
pub(crate) fn consuming_nodes(
    out: &mut String,
    consumed: &[Consumed<'_>],
) -> Result<(), std::fmt::Error> {
    for (index, c) in consumed.iter().enumerate() {
        writeln!(
            out,
            "    c{index}[[\"durable consumer {}<br/>subscription {}\"]]",
            text(&c.subscription.durable),
            text(&c.subscription.name)
        )?;
        writeln!(
            out,
            "    r{index}[\"{}<br/>via {}\"]",
            text(&c.handler_trait()),
            text(&c.router())
        )?;
    }
    Ok(())
}

/// The JetStream subgraph: the `published` streams (`s0`), then the streams the
/// subscriptions read that are not among them (`k0`) and their dead-letter streams (`q0`).
pub(crate) fn consuming_streams(
    out: &mut String,
    published: &[(String, Vec<String>)],
    consumed: &[Consumed<'_>],
) -> Result<(), std::fmt::Error> {
    writeln!(out, "  subgraph jetstream[\"NATS JetStream\"]")?;
    writeln!(out, "    direction LR")?;
    for (index, (stream, subjects)) in published.iter().enumerate() {
        writeln!(
            out,
            "    s{index}[(\"stream {}<br/>{}\")]",
            text(stream),
            text(&subjects.join(" "))
        )?;
    }
    let (read, dead) = consumed::streams(consumed);
    for (index, (stream, subjects)) in read.iter().enumerate() {
        if !published.iter().any(|(s, _)| s == stream) {
            writeln!(
                out,
                "    k{index}[(\"stream {}<br/>{}\")]",
                text(stream),
                text(&subjects.join(" "))
            )?;
        }
    }
    for (index, (stream, subjects)) in dead.iter().enumerate() {
        writeln!(
            out,
            "    q{index}[(\"dead letters: stream {}<br/>{}\")]",
            text(stream),
            text(&subjects.join(" "))
        )?;
    }
    writeln!(out, "  end")?;
    Ok(())
}

/// Per subscription: its stream -> its durable consumer (labelled with the subjects of its
/// events) -> its handler, and the consumer -> its dead-letter stream.
pub(crate) fn consuming_edges(
    out: &mut String,
    published: &[(String, Vec<String>)],
    consumed: &[Consumed<'_>],
) -> Result<(), std::fmt::Error> {
    let (read, dead) = consumed::streams(consumed);
    for (index, c) in consumed.iter().enumerate() {
        let stream = &c.channel.stream;
        let from = match published.iter().position(|(s, _)| s == stream) {
            Some(position) => format!("s{position}"),
            None => format!(
                "k{}",
                read.iter()
                    .position(|(s, _)| s == stream)
                    .unwrap_or_default()
            ),
        };
        writeln!(out, "  {from} -- \"{}\" --> c{index}", subjects_label(c))?;
        writeln!(out, "  c{index} --> r{index}")?;
        if let Some(channel) = &c.subscription.delivery.dead_letter
            && let Some(position) = dead.iter().position(|(s, _)| *s == channel.stream)
        {
            writeln!(out, "  c{index} -. \"dead letters\" .-> q{position}")?;
        }
    }
    Ok(())
}

/// Subjects listed at most on the edge into a durable consumer and in a delivery sequence
/// diagram; above, they say how many events (the catalog's subscription section lists
/// them).
pub const MAX_SUBJECTS_IN_LABEL: usize = 8;

/// The label of the edge into the durable consumer of `c`: its events' subjects, one a line,
/// or, for more than [`MAX_SUBJECTS_IN_LABEL`], their number and the channel's subjects.
fn subjects_label(c: &Consumed<'_>) -> String {
    if c.events.len() > MAX_SUBJECTS_IN_LABEL {
        return text(&format!(
            "{} events of {}.>",
            c.events.len(),
            c.channel.subject
        ));
    }
    let subjects: Vec<String> = c.events.iter().map(|e| text(&e.subject)).collect();
    subjects.join("<br/>")
}

/// The sequence diagram of one integration event: saved, dispatched, converted, published,
/// acknowledged by JetStream (de-duplicated by `Nats-Msg-Id`), delivered to consumers.
///
/// # Errors
/// Never in practice (writing into a `String`).
pub fn sequence(model: &Model, p: &Published<'_>) -> Result<String, std::fmt::Error> {
    publish_sequence(&PublishLabels {
        service: text(&model.service),
        handler: format!("{} handler", text(&p.event.name)),
        stream: text(&p.channel.stream),
        domain_event: text(&p.domain.name),
        aggregate_event: text(&format!("AggregateEvent<{}>", p.domain.name)),
        message: text(p.message.full_name()),
        integration_message: text(&format!(
            "IntegrationMessage (ce-type {}, ce-source {})",
            p.event.ce_type, model.service
        )),
        publish: text(&format!("publish on {} (Nats-Msg-Id = ce-id)", p.subject)),
        deliver: text(&format!("deliver {}", p.subject)),
    })
}

/// The labels of a publishing sequence diagram ([`publish_sequence`]), already Mermaid text.
pub(crate) struct PublishLabels {
    /// The producing service.
    pub service: String,
    /// The integration handler.
    pub handler: String,
    /// The JetStream stream.
    pub stream: String,
    /// The domain event the store hands over.
    pub domain_event: String,
    /// The `AggregateEvent<..>` the dispatcher passes.
    pub aggregate_event: String,
    /// The proto message the handler fills.
    pub message: String,
    /// The `IntegrationMessage` the handler publishes.
    pub integration_message: String,
    /// The publish step (subject and `Nats-Msg-Id`).
    pub publish: String,
    /// The delivery to consumers.
    pub deliver: String,
}

/// The sequence diagram of one integration event from the saved aggregate to the consumers,
/// with `labels` (one event, or every event of a channel).
pub(crate) fn publish_sequence(labels: &PublishLabels) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(out, "sequenceDiagram")?;
    writeln!(
        out,
        "  participant Store as {} aggregate store",
        labels.service
    )?;
    writeln!(out, "  participant Dispatcher as EventDispatcher")?;
    writeln!(out, "  participant Handler as {}", labels.handler)?;
    writeln!(out, "  participant Publisher as JetStreamPublisher")?;
    writeln!(out, "  participant Stream as stream {}", labels.stream)?;
    writeln!(
        out,
        "  participant Consumers as consumers (none declared yet)"
    )?;
    writeln!(
        out,
        "  Store->>Dispatcher: {} (after the aggregate is saved)",
        labels.domain_event
    )?;
    writeln!(out, "  Dispatcher->>Handler: {}", labels.aggregate_event)?;
    writeln!(
        out,
        "  Handler->>Handler: map fields into {}",
        labels.message
    )?;
    writeln!(out, "  Handler->>Publisher: {}", labels.integration_message)?;
    writeln!(out, "  Publisher->>Stream: {}", labels.publish)?;
    writeln!(
        out,
        "  Stream-->>Publisher: PubAck (a duplicate when the Nats-Msg-Id was seen)"
    )?;
    writeln!(out, "  Publisher-->>Handler: published")?;
    writeln!(out, "  Handler-->>Dispatcher: Ok")?;
    writeln!(out, "  Stream--)Consumers: {}", labels.deliver)?;
    Ok(out)
}

/// The sequence diagram of one delivery of a subscription: pulled by its durable consumer,
/// decoded, handed to the handler's method, acknowledged on `Ok`; redelivered after the
/// backoff on an error; dead-lettered after the last delivery when the policy has a
/// dead-letter channel.
///
/// # Errors
/// Never in practice (writing into a `String`).
pub fn delivery_sequence(c: &Consumed<'_>) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    let durable = &c.subscription.durable;
    writeln!(out, "sequenceDiagram")?;
    writeln!(
        out,
        "  participant Stream as stream {}",
        text(&c.channel.stream)
    )?;
    writeln!(
        out,
        "  participant Consumer as durable consumer {}",
        text(durable)
    )?;
    writeln!(out, "  participant Router as {}", text(&c.router()))?;
    writeln!(out, "  participant Handler as {}", text(&c.handler_trait()))?;
    let dead_letter = c.subscription.delivery.dead_letter.as_ref();
    if let Some(channel) = dead_letter {
        writeln!(
            out,
            "  participant DeadLetters as dead letters {}",
            text(&channel.stream)
        )?;
    }
    let many = c.events.len() > MAX_SUBJECTS_IN_LABEL;
    let subjects: Vec<&str> = c.events.iter().map(|e| e.subject.as_str()).collect();
    let delivered = if many {
        format!(
            "deliver one of the {} events of {}.>",
            c.events.len(),
            c.channel.subject
        )
    } else {
        format!("deliver {}", subjects.join(", "))
    };
    writeln!(out, "  Stream->>Consumer: {}", text(&delivered))?;
    writeln!(
        out,
        "  Consumer->>Router: {}",
        text(&format!(
            "Delivery<{}> (decoded by ce-type)",
            c.event_enum()
        ))
    )?;
    let methods: Vec<String> = c.events.iter().map(|e| e.handler_method()).collect();
    let method = if many {
        format!("the method of the event (one of {})", methods.len())
    } else {
        format!("the method of the event: {}", methods.join(", "))
    };
    writeln!(out, "  Router->>Handler: {}", text(&method))?;
    writeln!(out, "  alt Ok")?;
    writeln!(out, "    Handler-->>Consumer: Ok")?;
    writeln!(out, "    Consumer->>Stream: ack")?;
    writeln!(out, "  else error, deliveries left")?;
    writeln!(out, "    Handler-->>Consumer: Err")?;
    writeln!(
        out,
        "    Consumer->>Stream: nak (redelivered after the backoff)"
    )?;
    if let Some(channel) = dead_letter {
        writeln!(out, "  else error on the last delivery")?;
        writeln!(out, "    Handler-->>Consumer: Err")?;
        writeln!(
            out,
            "    Consumer->>DeadLetters: {}",
            text(&format!("publish on {}.<event name>", channel.subject))
        )?;
        writeln!(out, "    Consumer->>Stream: ack")?;
    }
    writeln!(out, "  end")?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_what_mermaid_would_read_as_syntax() {
        assert_eq!(text("a\"b;c#d<e>&"), "a#quot;b#59;c#35;d#lt;e#gt;#amp;");
        assert_eq!(text("two\nlines"), "two lines");
        assert_eq!(
            text("ordering.order.OrderCreatedEvent"),
            "ordering.order.OrderCreatedEvent"
        );
    }
}
