//! The system catalog (`system.md`) of several tables documented together: the services, the
//! channels each producer publishes on with the subscriptions consuming them, each
//! subscription with its producers, who consumes each integration event, and a Mermaid
//! flowchart of the flow between the services (domain events -> dispatcher -> integration
//! handlers -> publisher -> stream -> the consuming services' durable consumers).
//!
//! The text is the templates `templates/docs/system.md` and `templates/docs/mermaid/system.mmd`;
//! this module prepares their values.

use std::path::{Component, Path, PathBuf};

use askama::Template;

use super::DocsError;
use super::catalog::{Fenced, cell, code};
use super::mermaid::text;
use crate::model::{Channel, IntegrationEvent, Model};
use crate::system::Wiring;

/// One table documented together: its file and its checked model.
pub(crate) struct Documented<'a> {
    /// The table file, as given.
    pub file: &'a Path,
    /// Its checked model.
    pub model: &'a Model,
}

/// The system catalog of `tables` (in the order given), linked by `wiring`.
///
/// # Errors
/// [`DocsError::Template`] when a template cannot be rendered (it can).
pub(crate) fn render(tables: &[Documented<'_>], wiring: &Wiring) -> Result<String, DocsError> {
    let base = tables
        .first()
        .map(|t| crate::validate::table_dir(t.file))
        .unwrap_or_default();
    let labels: Vec<String> = tables
        .iter()
        .map(|t| relative(&base, t.file).display().to_string())
        .collect();
    let catalog = SystemCatalog {
        tables: labels.join(", "),
        tables_code: labels
            .iter()
            .map(|l| code(l))
            .collect::<Vec<_>>()
            .join(", "),
        checks_link: format!("{}#tables-checked-together", crate::rules::DOCS_URL),
        services: tables
            .iter()
            .zip(&labels)
            .enumerate()
            .map(|(index, (t, label))| service_row(index, t.model, label, wiring))
            .collect(),
        channels: channel_rows(tables, wiring),
        subscriptions: subscription_rows(tables, wiring),
        events: event_rows(tables, wiring),
        flow: Fenced::new(flow(tables, wiring)?),
    };
    Ok(catalog.render()?)
}

/// The view of `templates/docs/system.md`, every value ready for Markdown.
#[derive(Template)]
#[template(path = "docs/system.md", escape = "none")]
struct SystemCatalog {
    tables: String,
    tables_code: String,
    checks_link: String,
    services: Vec<ServiceRow>,
    channels: Vec<ChannelRow>,
    subscriptions: Vec<SubscriptionRow>,
    events: Vec<EventRow>,
    flow: Fenced,
}

struct ServiceRow {
    service: String,
    table: String,
    publishes: String,
    consumes: String,
}

struct ChannelRow {
    producer: String,
    channel: String,
    subjects: String,
    stream: String,
    events: String,
    consumers: String,
}

struct SubscriptionRow {
    consumer: String,
    subscription: String,
    durable: String,
    producers: String,
    subjects: String,
    events: String,
    dead_letters: String,
}

struct EventRow {
    event: String,
    producer: String,
    consumers: String,
}

/// `path` relative to the folder `base` (both made absolute when they exist), for names
/// that do not depend on where eventmap runs.
fn relative(base: &Path, path: &Path) -> PathBuf {
    let (Ok(base), Ok(path)) = (std::fs::canonicalize(base), std::fs::canonicalize(path)) else {
        return path.to_path_buf();
    };
    let base: Vec<Component<'_>> = base.components().collect();
    let target: Vec<Component<'_>> = path.components().collect();
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..base.len() {
        out.push("..");
    }
    for component in &target[common..] {
        out.push(component.as_os_str());
    }
    out
}

/// The channels `model` publishes on, in table order.
fn published_channels(model: &Model) -> Vec<&Channel> {
    model
        .channels
        .iter()
        .filter(|c| integrations(model).any(|i| i.channel == c.name))
        .collect()
}

/// Every integration event of `model`, in table order.
fn integrations(model: &Model) -> impl Iterator<Item = &IntegrationEvent> {
    model.events.iter().flat_map(|e| &e.integrations)
}

/// `1 event`, `4 events`.
fn events(count: usize) -> String {
    format!("{count} event{}", if count == 1 { "" } else { "s" })
}

/// `items` as code spans joined with `, `, or `-` when there is none.
fn codes<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "-".to_owned();
    }
    let spans: Vec<String> = items.iter().map(|s| code(s.as_ref())).collect();
    cell(&spans.join(", "))
}

fn service_row(index: usize, model: &Model, label: &str, wiring: &Wiring) -> ServiceRow {
    let publishes: Vec<String> = published_channels(model)
        .into_iter()
        .map(|c| {
            let count = integrations(model).filter(|i| i.channel == c.name).count();
            format!("{} on {}", events(count), code(&format!("{}.>", c.subject)))
        })
        .collect();
    let consumes: Vec<String> = model
        .subscriptions
        .iter()
        .map(|s| {
            let producers: Vec<String> = wiring
                .producers_of(index, &s.name)
                .map(|l| code(&l.producer_service))
                .collect();
            let from = if producers.is_empty() {
                "no table documented here".to_owned()
            } else {
                producers.join(", ")
            };
            format!(
                "{} of {from} (subscription {})",
                events(s.events.len()),
                code(&s.name)
            )
        })
        .collect();
    let or_dash = |items: Vec<String>| {
        if items.is_empty() {
            "-".to_owned()
        } else {
            cell(&items.join("; "))
        }
    };
    ServiceRow {
        service: cell(&code(&model.service)),
        table: cell(&code(label)),
        publishes: or_dash(publishes),
        consumes: or_dash(consumes),
    }
}

fn channel_rows(tables: &[Documented<'_>], wiring: &Wiring) -> Vec<ChannelRow> {
    let mut rows = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        for channel in published_channels(table.model) {
            let events: Vec<&str> = integrations(table.model)
                .filter(|i| i.channel == channel.name)
                .map(|i| i.name.as_str())
                .collect();
            let consumers: Vec<String> = wiring
                .consumers_of(index, &channel.name)
                .filter(|c| !c.events.is_empty())
                .map(|c| format!("{} ({})", code(&c.service), code(&c.durable)))
                .collect();
            rows.push(ChannelRow {
                producer: cell(&code(&table.model.service)),
                channel: cell(&code(&channel.name)),
                subjects: cell(&code(&format!("{}.>", channel.subject))),
                stream: cell(&code(&channel.stream)),
                events: codes(&events),
                consumers: if consumers.is_empty() {
                    "none".to_owned()
                } else {
                    cell(&consumers.join(", "))
                },
            });
        }
    }
    rows
}

fn subscription_rows(tables: &[Documented<'_>], wiring: &Wiring) -> Vec<SubscriptionRow> {
    let mut rows = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let model = table.model;
        for s in &model.subscriptions {
            let producers: Vec<String> = wiring
                .producers_of(index, &s.name)
                .map(|l| l.producer_service.clone())
                .collect();
            let subjects = model
                .channels
                .iter()
                .find(|c| c.name == s.channel)
                .map_or_else(String::new, |c| format!("{}.>", c.subject));
            let events: Vec<&str> = s.events.iter().map(|e| e.name.as_str()).collect();
            rows.push(SubscriptionRow {
                consumer: cell(&code(&model.service)),
                subscription: cell(&code(&s.name)),
                durable: cell(&code(&s.durable)),
                producers: if producers.is_empty() {
                    "none documented here".to_owned()
                } else {
                    codes(&producers)
                },
                subjects: cell(&code(&subjects)),
                events: codes(&events),
                dead_letters: s.delivery.dead_letter.as_ref().map_or_else(
                    || "-".to_owned(),
                    |d| cell(&format!("{} ({})", code(&d.subject), code(&d.stream))),
                ),
            });
        }
    }
    rows
}

fn event_rows(tables: &[Documented<'_>], wiring: &Wiring) -> Vec<EventRow> {
    let mut rows = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        for event in integrations(table.model) {
            let mut consumers: Vec<String> = Vec::new();
            for c in wiring
                .consumers_of(index, &event.channel)
                .filter(|c| c.events.contains(&event.name))
            {
                let named = format!(
                    "{} (subscription {})",
                    code(&c.service),
                    code(&c.subscription)
                );
                if !consumers.contains(&named) {
                    consumers.push(named);
                }
            }
            rows.push(EventRow {
                event: cell(&code(&event.name)),
                producer: cell(&code(&table.model.service)),
                consumers: if consumers.is_empty() {
                    "none".to_owned()
                } else {
                    cell(&consumers.join(", "))
                },
            });
        }
    }
    rows
}

/// The view of `templates/docs/mermaid/system.mmd`, Mermaid text.
#[derive(Template)]
#[template(path = "docs/mermaid/system.mmd", escape = "none")]
struct SystemFlow {
    services: Vec<ServiceNode>,
    /// Every stream published on: (stream, subject filters).
    streams: Vec<(String, String)>,
    edges: Vec<FlowEdge>,
}

/// A service's subgraph: its publishing side, when it publishes, and its durable consumers.
struct ServiceNode {
    index: usize,
    service: String,
    publishing: Option<Publishing>,
    durables: Vec<String>,
}

struct Publishing {
    domain_events: usize,
    handlers: usize,
    /// The indexes of the streams it publishes on.
    streams: Vec<usize>,
}

/// A stream to a durable consumer of a table, labelled with how many events.
struct FlowEdge {
    stream: usize,
    table: usize,
    durable: usize,
    label: String,
}

fn flow(tables: &[Documented<'_>], wiring: &Wiring) -> Result<String, DocsError> {
    let mut streams: Vec<(String, Vec<String>)> = Vec::new();
    let stream_of = |streams: &mut Vec<(String, Vec<String>)>, channel: &Channel| {
        let subject = format!("{}.>", channel.subject);
        match streams.iter().position(|(s, _)| *s == channel.stream) {
            Some(index) => {
                if !streams[index].1.contains(&subject) {
                    streams[index].1.push(subject);
                }
                index
            }
            None => {
                streams.push((channel.stream.clone(), vec![subject]));
                streams.len() - 1
            }
        }
    };
    let mut services = Vec::new();
    for (index, table) in tables.iter().enumerate() {
        let model = table.model;
        let channels = published_channels(model);
        let publishing = (!channels.is_empty()).then(|| Publishing {
            domain_events: model
                .events
                .iter()
                .filter(|e| !e.integrations.is_empty())
                .count(),
            handlers: integrations(model).count(),
            streams: channels
                .into_iter()
                .map(|c| stream_of(&mut streams, c))
                .collect(),
        });
        let mut durables: Vec<String> = Vec::new();
        for s in &model.subscriptions {
            if !durables.contains(&s.durable) {
                durables.push(s.durable.clone());
            }
        }
        services.push(ServiceNode {
            index,
            service: text(&model.service),
            publishing,
            durables: durables.iter().map(|d| text(d)).collect(),
        });
    }
    let mut edges: Vec<FlowEdge> = Vec::new();
    for link in wiring
        .links
        .iter()
        .filter(|l| !l.consumer.events.is_empty())
    {
        let Some(channel) = tables
            .get(link.producer)
            .and_then(|t| t.model.channels.iter().find(|c| c.name == link.channel))
        else {
            continue;
        };
        let stream = stream_of(&mut streams, channel);
        let table = link.consumer.table;
        let durable = services
            .get(table)
            .and_then(|s| {
                s.durables
                    .iter()
                    .position(|d| *d == text(&link.consumer.durable))
            })
            .unwrap_or_default();
        edges.push(FlowEdge {
            stream,
            table,
            durable,
            label: text(&events(link.consumer.events.len())),
        });
    }
    let flow = SystemFlow {
        services,
        streams: streams
            .into_iter()
            .map(|(stream, subjects)| (text(&stream), text(&subjects.join(" "))))
            .collect(),
        edges,
    };
    Ok(flow.render()?)
}
