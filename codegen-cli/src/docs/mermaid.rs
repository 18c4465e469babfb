//! Mermaid diagrams of the flow, drawn for the table's actual events and channels: a
//! flowchart of the whole service (domain events -> dispatcher -> integration handlers ->
//! publisher -> streams -> consumers, and consumed streams -> durable consumers -> handlers
//! -> dead-letter streams), a sequence diagram per integration event published and one per
//! subscription.
//!
//! The diagrams are the templates `templates/docs/mermaid/*.mmd`; this module prepares their
//! values.
//!
//! Node ids are generated (`d0`, `h0`, `s0`), never taken from the table, so no name can
//! clash with Mermaid's keywords; every text shown goes through [`text`].
//!
//! A large table's flowchart is drawn in several pictures ([`split::flowcharts`]): Mermaid
//! refuses a diagram longer than its `maxTextSize` (50,000 characters by default; the CLI
//! still exits 0, with an error picture).

pub mod split;

use askama::Template;

use super::consumed::{self, Consumed};
use super::{DocsError, Peers, Published, internal_events, streams};
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
/// [`DocsError::Template`] when the template cannot be rendered (it can).
pub fn flowchart(
    model: &Model,
    published: &[Published<'_>],
    consumed: &[Consumed<'_>],
    peers: &Peers,
) -> Result<String, DocsError> {
    let internal = internal_events(model);
    let flowchart = Flowchart {
        service: text(&model.service),
        publishing: super::catalog::publishes(model, published, consumed),
        domains: model
            .events
            .iter()
            .map(|domain| DomainNode {
                name: text(&domain.name),
                internal: internal.contains(&domain.name.as_str()),
            })
            .collect(),
        handlers: published.iter().enumerate().map(HandlerNode::of).collect(),
        consuming: ConsumingView::of(&streams(published), consumed)
            .with_peers(published, consumed, peers),
    };
    Ok(flowchart.render()?)
}

/// The view of [`flowchart`].
#[derive(Template)]
#[template(path = "docs/mermaid/flowchart.mmd", escape = "none")]
struct Flowchart {
    service: String,
    /// Whether the publishing side is drawn ([`super::catalog::publishes`]).
    publishing: bool,
    /// Every domain event, in table order.
    domains: Vec<DomainNode>,
    handlers: Vec<HandlerNode>,
    consuming: ConsumingView,
}

/// A domain event in [`Flowchart`].
struct DomainNode {
    name: String,
    /// Whether it stays inside the service.
    internal: bool,
}

/// The integration handler of one published event (node `h<index>`, `index` its place in the
/// table), Mermaid text.
pub(crate) struct HandlerNode {
    pub index: usize,
    pub event: String,
    pub message: String,
    pub domain: String,
    pub subject: String,
}

impl HandlerNode {
    /// The node of `p`, the `index`th event of the table.
    pub(crate) fn of((index, p): (usize, &Published<'_>)) -> HandlerNode {
        HandlerNode {
            index,
            event: text(&p.event.name),
            message: text(p.message.full_name()),
            domain: text(&p.domain.name),
            subject: text(&p.subject),
        }
    }
}

/// What a flowchart draws of the streams and of the subscriptions: per subscription its
/// durable consumer (`c0`) and its handler (`r0`); the `published` streams (`s0`), then the
/// streams the subscriptions read that are not among them (`k0`) and their dead-letter
/// streams (`q0`); per subscription its stream -> its durable consumer (labelled with the
/// subjects of its events) -> its handler, and the consumer -> its dead-letter stream.
pub(crate) struct ConsumingView {
    subscriptions: Vec<SubscriptionNode>,
    published: Vec<StreamNode>,
    /// The subscriptions of the tables documented together that consume the streams
    /// published on (node `x<index>`).
    peers: Vec<PeerNode>,
    /// The label of the `consumers` node of the streams no peer consumes: `None` when every
    /// stream published on has its peers.
    nobody: Option<String>,
    /// The other services, documented together, publishing what the subscriptions receive
    /// (node `y<index>`), Mermaid text.
    producers: Vec<String>,
    /// A producer (its index in `producers`) into the node of a stream a subscription reads.
    producer_edges: Vec<(usize, String)>,
    read: Vec<StreamNode>,
    dead: Vec<StreamNode>,
    edges: Vec<ConsumerEdge>,
}

/// The durable consumer and handler of a subscription.
struct SubscriptionNode {
    durable: String,
    name: String,
    handler_trait: String,
    router: String,
}

/// A stream with its subject filters (node `<s|k|q><index>`).
struct StreamNode {
    index: usize,
    stream: String,
    subjects: String,
    /// For a stream published on: the indexes of the [`PeerNode`]s consuming it.
    consumers: Vec<usize>,
}

impl StreamNode {
    /// The node of the `index`th stream with its subjects.
    fn of((index, (stream, subjects)): (usize, &(String, Vec<String>))) -> StreamNode {
        StreamNode {
            index,
            stream: text(stream),
            subjects: text(&subjects.join(" ")),
            consumers: Vec::new(),
        }
    }
}

/// A subscription of another table documented together, consuming a stream published on:
/// its service and durable consumer, Mermaid text.
struct PeerNode {
    service: String,
    durable: String,
}

/// The edges of a subscription: from node `from`, labelled `subjects`, and to dead-letter
/// stream `q<dead_letters>`.
struct ConsumerEdge {
    from: String,
    subjects: String,
    dead_letters: Option<usize>,
}

impl ConsumingView {
    /// The view of the streams `published` on and of the subscriptions `consumed`.
    pub(crate) fn of(published: &[(String, Vec<String>)], consumed: &[Consumed<'_>]) -> Self {
        let (read, dead) = consumed::streams(consumed);
        let edges = consumed
            .iter()
            .map(|c| {
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
                let dead_letters = c
                    .subscription
                    .delivery
                    .dead_letter
                    .as_ref()
                    .and_then(|channel| dead.iter().position(|(s, _)| *s == channel.stream));
                ConsumerEdge {
                    from,
                    subjects: subjects_label(c),
                    dead_letters,
                }
            })
            .collect();
        ConsumingView {
            subscriptions: consumed
                .iter()
                .map(|c| SubscriptionNode {
                    durable: text(&c.subscription.durable),
                    name: text(&c.subscription.name),
                    handler_trait: text(&c.handler_trait()),
                    router: text(&c.router()),
                })
                .collect(),
            published: published.iter().enumerate().map(StreamNode::of).collect(),
            read: read
                .iter()
                .enumerate()
                .filter(|(_, (stream, _))| !published.iter().any(|(s, _)| s == stream))
                .map(StreamNode::of)
                .collect(),
            dead: dead.iter().enumerate().map(StreamNode::of).collect(),
            edges,
            peers: Vec::new(),
            nobody: (!published.is_empty()).then(|| "none declared yet".to_owned()),
            producers: Vec::new(),
            producer_edges: Vec::new(),
        }
    }

    /// Draws the consumers of the streams `published` on from `peers`: one node per
    /// subscription of another table (service and durable), fed by the streams it consumes;
    /// the streams nobody consumes feed the `consumers` node, labelled with
    /// [`Peers::nobody`]. The other services publishing what the subscriptions (`consumed`)
    /// receive are drawn feeding the streams they read.
    pub(crate) fn with_peers(
        mut self,
        published: &[Published<'_>],
        consumed: &[Consumed<'_>],
        peers: &Peers,
    ) -> Self {
        for (edge, c) in self.edges.iter().zip(consumed) {
            // A stream the table publishes on (`s<index>`) is drawn with its publisher.
            if edge.from.starts_with('s') {
                continue;
            }
            for producer in peers.producers(&c.subscription.name) {
                let node = text(producer);
                let index = match self.producers.iter().position(|p| *p == node) {
                    Some(index) => index,
                    None => {
                        self.producers.push(node);
                        self.producers.len() - 1
                    }
                };
                let pair = (index, edge.from.clone());
                if !self.producer_edges.contains(&pair) {
                    self.producer_edges.push(pair);
                }
            }
        }
        let mut nobody = false;
        for node in &mut self.published {
            let mut channels: Vec<&str> = Vec::new();
            for p in published
                .iter()
                .filter(|p| text(&p.channel.stream) == node.stream)
            {
                if !channels.contains(&p.channel.name.as_str()) {
                    channels.push(&p.channel.name);
                }
            }
            for consumer in channels.iter().flat_map(|c| peers.of_channel(c)) {
                let peer = PeerNode {
                    service: text(&consumer.service),
                    durable: text(&consumer.durable),
                };
                let index = match self
                    .peers
                    .iter()
                    .position(|p| p.service == peer.service && p.durable == peer.durable)
                {
                    Some(index) => index,
                    None => {
                        self.peers.push(peer);
                        self.peers.len() - 1
                    }
                };
                if !node.consumers.contains(&index) {
                    node.consumers.push(index);
                }
            }
            nobody |= node.consumers.is_empty();
        }
        self.nobody = nobody.then(|| text(peers.nobody()));
        self
    }
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
/// [`DocsError::Template`] when the template cannot be rendered (it can).
pub fn sequence(model: &Model, p: &Published<'_>, peers: &Peers) -> Result<String, DocsError> {
    let consumers: Vec<String> = peers
        .of_event(&p.channel.name, &p.event.name)
        .into_iter()
        .map(|c| c.service.clone())
        .collect();
    Ok(PublishLabels {
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
        consumers: consumers_label(&consumers, peers),
    }
    .render()?)
}

/// The consumers of a sequence diagram: their services (each once), or [`Peers::nobody`],
/// Mermaid text.
pub(crate) fn consumers_label(services: &[String], peers: &Peers) -> String {
    let mut unique: Vec<&str> = Vec::new();
    for service in services {
        if !unique.contains(&service.as_str()) {
            unique.push(service);
        }
    }
    if unique.is_empty() {
        text(peers.nobody())
    } else {
        text(&unique.join(", "))
    }
}

/// The labels of the sequence diagram of one integration event from the saved aggregate to
/// the consumers (one event, or every event of a channel), already Mermaid text.
#[derive(Template)]
#[template(path = "docs/mermaid/publish_sequence.mmd", escape = "none")]
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
    /// Who the consumers are ([`consumers_label`]).
    pub consumers: String,
}

/// The sequence diagram of one delivery of a subscription: pulled by its durable consumer,
/// decoded, handed to the handler's method, acknowledged on `Ok`; redelivered after the
/// backoff on an error; dead-lettered after the last delivery when the policy has a
/// dead-letter channel.
///
/// # Errors
/// [`DocsError::Template`] when the template cannot be rendered (it can).
pub fn delivery_sequence(c: &Consumed<'_>) -> Result<String, DocsError> {
    let many = c.events.len() > MAX_SUBJECTS_IN_LABEL;
    let delivered = if many {
        format!(
            "deliver one of the {} events of {}.>",
            c.events.len(),
            c.channel.subject
        )
    } else {
        let subjects: Vec<&str> = c.events.iter().map(|e| e.subject.as_str()).collect();
        format!("deliver {}", subjects.join(", "))
    };
    let methods: Vec<String> = c.events.iter().map(|e| e.handler_method()).collect();
    let method = if many {
        format!("the method of the event (one of {})", methods.len())
    } else {
        format!("the method of the event: {}", methods.join(", "))
    };
    let dead_letters = c
        .subscription
        .delivery
        .dead_letter
        .as_ref()
        .map(|channel| DeadLetters {
            stream: text(&channel.stream),
            publish: text(&format!("publish on {}.<event name>", channel.subject)),
        });
    let sequence = DeliverySequence {
        stream: text(&c.channel.stream),
        durable: text(&c.subscription.durable),
        router: text(&c.router()),
        handler: text(&c.handler_trait()),
        dead_letters,
        delivered: text(&delivered),
        decoded: text(&format!(
            "Delivery<{}> (decoded by ce-type)",
            c.event_enum()
        )),
        method: text(&method),
    };
    Ok(sequence.render()?)
}

/// The view of [`delivery_sequence`], Mermaid text.
#[derive(Template)]
#[template(path = "docs/mermaid/delivery_sequence.mmd", escape = "none")]
struct DeliverySequence {
    stream: String,
    durable: String,
    router: String,
    handler: String,
    dead_letters: Option<DeadLetters>,
    /// What the stream delivers.
    delivered: String,
    /// What the consumer hands the router.
    decoded: String,
    /// The handler method called.
    method: String,
}

/// The dead-letter stream of a subscription and what is published there.
struct DeadLetters {
    stream: String,
    publish: String,
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
