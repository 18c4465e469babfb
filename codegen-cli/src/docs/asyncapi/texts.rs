//! The descriptions in the AsyncAPI document, one paragraph each: askama templates in
//! `templates/docs/asyncapi/`, Markdown as AsyncAPI reads it.

use askama::Template;

/// The description of the document.
#[derive(Template)]
#[template(path = "docs/asyncapi/info.txt", escape = "none")]
pub(super) struct InfoText<'a> {
    pub service: &'a str,
    pub table: &'a str,
    /// What the service does when it consumes: consumes from, or publishes on and consumes
    /// from; `None` when it only publishes.
    pub consumes: Option<&'static str>,
    /// The sentence naming its peers, when documented with other tables.
    pub peers: Option<String>,
}

/// The description of a channel.
#[derive(Template)]
#[template(path = "docs/asyncapi/channel.txt", escape = "none")]
pub(super) struct ChannelText<'a> {
    /// Whether the service publishes the channel's event (else another service does).
    pub published: bool,
    pub event: &'a str,
    pub service: &'a str,
    pub channel: &'a str,
    pub subject: &'a str,
    pub stream: &'a str,
}

/// The description of the `send` operation of an event published.
#[derive(Template)]
#[template(path = "docs/asyncapi/send.txt", escape = "none")]
pub(super) struct SendText<'a> {
    pub domain: &'a str,
    pub message: &'a str,
    pub subject: &'a str,
    /// Who consumes it, when documented with other tables.
    pub consumers: Option<String>,
}

/// The description of the `receive` operation of an event a subscription receives.
#[derive(Template)]
#[template(path = "docs/asyncapi/receive.txt", escape = "none")]
pub(super) struct ReceiveText<'a> {
    pub durable: &'a str,
    pub stream: &'a str,
    pub event: &'a str,
    pub subject: &'a str,
    pub router: String,
    pub message: &'a str,
    pub handler_trait: String,
    pub method: String,
    /// The delivery policy, `what: how` items joined with `; `.
    pub delivery: String,
    /// Who publishes it, when documented with other tables.
    pub producers: Option<String>,
}

/// The description of a message.
#[derive(Template)]
#[template(path = "docs/asyncapi/message.txt", escape = "none")]
pub(super) struct MessageText<'a> {
    /// The proto message's comment.
    pub comment: Option<String>,
    /// The domain event it is produced from; `None` for a message received.
    pub domain: Option<&'a str>,
    /// The service that receives it (when `domain` is `None`).
    pub receiver: &'a str,
    /// The full name of the proto message.
    pub message: &'a str,
    pub file: &'a str,
    /// How many other types its schema declares.
    pub other_types: usize,
}
