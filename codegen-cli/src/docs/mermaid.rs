//! Mermaid diagrams of the flow, drawn for the table's actual events and channels: a
//! flowchart of the whole service (domain events -> dispatcher -> integration handlers ->
//! publisher -> streams -> consumers) and a sequence diagram per integration event.
//!
//! Node ids are generated (`d0`, `h0`, `s0`), never taken from the table, so no name can
//! clash with Mermaid's keywords; every text shown goes through [`text`].

use std::fmt::Write as _;

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
/// at the dispatcher.
///
/// # Errors
/// Never in practice (writing into a `String`).
pub fn flowchart(model: &Model, published: &[Published<'_>]) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(out, "flowchart LR")?;
    writeln!(
        out,
        "  subgraph service[\"service {}\"]",
        text(&model.service)
    )?;
    writeln!(out, "    direction LR")?;
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
    writeln!(out, "  end")?;
    let streams = streams(published);
    writeln!(out, "  subgraph jetstream[\"NATS JetStream\"]")?;
    writeln!(out, "    direction LR")?;
    for (index, (stream, subjects)) in streams.iter().enumerate() {
        writeln!(
            out,
            "    s{index}[(\"stream {}<br/>{}\")]",
            text(stream),
            text(&subjects.join(" "))
        )?;
    }
    writeln!(out, "  end")?;
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
    Ok(out)
}

/// The sequence diagram of one integration event: saved, dispatched, converted, published,
/// acknowledged by JetStream (de-duplicated by `Nats-Msg-Id`), delivered to consumers.
///
/// # Errors
/// Never in practice (writing into a `String`).
pub fn sequence(model: &Model, p: &Published<'_>) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    writeln!(out, "sequenceDiagram")?;
    writeln!(
        out,
        "  participant Store as {} aggregate store",
        text(&model.service)
    )?;
    writeln!(out, "  participant Dispatcher as EventDispatcher")?;
    writeln!(
        out,
        "  participant Handler as {} handler",
        text(&p.event.name)
    )?;
    writeln!(out, "  participant Publisher as JetStreamPublisher")?;
    writeln!(
        out,
        "  participant Stream as stream {}",
        text(&p.channel.stream)
    )?;
    writeln!(
        out,
        "  participant Consumers as consumers (none declared yet)"
    )?;
    writeln!(
        out,
        "  Store->>Dispatcher: {} (after the aggregate is saved)",
        text(&p.domain.name)
    )?;
    writeln!(
        out,
        "  Dispatcher->>Handler: {}",
        text(&format!("AggregateEvent<{}>", p.domain.name))
    )?;
    writeln!(
        out,
        "  Handler->>Handler: map fields into {}",
        text(p.message.full_name())
    )?;
    writeln!(
        out,
        "  Handler->>Publisher: {}",
        text(&format!(
            "IntegrationMessage (ce-type {}, ce-source {})",
            p.event.name, model.service
        ))
    )?;
    writeln!(
        out,
        "  Publisher->>Stream: {}",
        text(&format!("publish on {} (Nats-Msg-Id = ce-id)", p.subject))
    )?;
    writeln!(
        out,
        "  Stream-->>Publisher: PubAck (a duplicate when the Nats-Msg-Id was seen)"
    )?;
    writeln!(out, "  Publisher-->>Handler: published")?;
    writeln!(out, "  Handler-->>Dispatcher: Ok")?;
    writeln!(
        out,
        "  Stream--)Consumers: {}",
        text(&format!("deliver {}", p.subject))
    )?;
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
