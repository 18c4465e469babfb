//! Several mapping tables checked together: the tables of the services of one system, each
//! already checked on its own, then the consumers' tables against the producers' tables.
//!
//! - every subscription's channel is a channel some table publishes on, with the same subject
//!   and stream (`channel-not-published`, `channel-stream-mismatch`);
//! - every event a subscription receives is published on that channel, with the same proto
//!   message (full name) and CloudEvents type (`event-not-published`,
//!   `event-message-mismatch`, `event-ce-type-mismatch`);
//! - the consumer's copy of each message is wire-compatible with the producer's, by the rules
//!   of `eventmap check --against` (the consumer's copy is the baseline side, so a consumer
//!   may know fewer fields: `incompatible-message-copy`);
//! - durable consumer names are unique across the tables (`shared-durable`);
//! - a dead-letter subject overlaps no channel another table publishes on and no other
//!   table's dead-letter subject (`dead-letter-overlap`).
//!
//! Every problem is located in the consumer's table (the subscription's row), with notes at
//! the producer's row and the `.proto` definitions on both sides; it is appended to the
//! consumer's [`Analysis::diagnostics`], so that every output format shows it.
//!
//! With `--against`, [`consumer_impacts`] says which consumer a producer's breaking change
//! reaches (`break-reaches-consumer`), and [`wiring`] gives `eventmap docs` who consumes
//! which producer's channels.
//!
//! ```no_run
//! use eventmap_codegen::{analyze, system};
//!
//! let paths = system::find_tables(&["mappings.yaml".into(), "examples".into()])?;
//! let mut analyses = paths
//!     .iter()
//!     .map(|path| analyze(path))
//!     .collect::<Result<Vec<_>, _>>()?;
//! system::check(&mut analyses);
//! for analysis in &analyses {
//!     eprintln!("{}", analysis.render());
//! }
//! # Ok::<(), eventmap_codegen::Error>(())
//! ```

mod channels;
mod durables;
mod events;
mod impact;
mod tables;
mod wiring;

use std::path::PathBuf;

use serde_saphyr::Location;

pub use impact::consumer_impacts;
pub use tables::{TABLE_FILE, TablesError, find_tables};
pub use wiring::{Consumer, Link, Wiring, wiring};

use crate::Analysis;
use crate::breaking::side::Side;
use crate::diagnostic::{Diagnostic, SourceLocation};
use crate::model::{self, Model};
use crate::protos::ProtoSet;
use crate::rules::Rule;
use crate::table;

/// What [`check`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrossCheck {
    /// Fewer than two tables: there is nothing to check across tables.
    Single,
    /// These tables have errors of their own: the tables are checked against each other once
    /// each is valid (a table with errors has no checked model to compare).
    Skipped {
        /// The tables with errors, as given.
        tables: Vec<PathBuf>,
    },
    /// The tables were checked against each other.
    Checked {
        /// How many diagnostics the cross-checks added, over all tables.
        diagnostics: usize,
    },
}

/// Checks the tables of `analyses` against each other (see the module documentation) and
/// appends each problem to the diagnostics of the consumer's table it is located in.
///
/// Nothing is checked with fewer than two tables, or when a table has errors of its own
/// ([`CrossCheck::Skipped`]).
pub fn check(analyses: &mut [Analysis]) -> CrossCheck {
    if analyses.len() < 2 {
        return CrossCheck::Single;
    }
    let invalid: Vec<PathBuf> = analyses
        .iter()
        .filter(|a| a.has_errors() || a.model.is_none() || a.protos.is_none())
        .map(|a| a.file.clone())
        .collect();
    if !invalid.is_empty() {
        return CrossCheck::Skipped { tables: invalid };
    }
    let found = {
        let services = services(analyses);
        let mut found = Found::default();
        let links = channels::check(&services, &mut found);
        events::check(&services, &links, &mut found);
        durables::check(&services, &mut found);
        channels::dead_letters(&services, &mut found);
        found.into_list()
    };
    let diagnostics = found.len();
    for (index, diagnostic) in found {
        if let Some(analysis) = analyses.get_mut(index) {
            analysis.diagnostics.push(diagnostic);
        }
    }
    CrossCheck::Checked { diagnostics }
}

/// The valid tables of `analyses` as services, with their index in `analyses`.
fn services(analyses: &[Analysis]) -> Vec<Service<'_>> {
    analyses
        .iter()
        .enumerate()
        .filter_map(|(index, analysis)| Service::of(index, analysis))
        .collect()
}

/// One valid table: its checked model, its protos and its table with spans.
pub(crate) struct Service<'a> {
    /// Its index among the tables checked together.
    pub index: usize,
    /// The checked model.
    pub model: &'a Model,
    /// The compiled protos.
    pub protos: &'a ProtoSet,
    /// The table as written, with its spans.
    pub side: Side<'a>,
}

impl<'a> Service<'a> {
    /// The service of `analysis`, when its table is valid.
    pub fn of(index: usize, analysis: &'a Analysis) -> Option<Service<'a>> {
        Some(Service {
            index,
            model: analysis.model.as_ref()?,
            protos: analysis.protos.as_ref()?,
            side: Side::of(analysis)?,
        })
    }

    /// The service's name (`service:`).
    pub fn name(&self) -> &'a str {
        &self.model.service
    }

    /// A place in the table.
    pub fn loc(&self, at: Location) -> Option<SourceLocation> {
        self.side.loc(at)
    }

    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&'a model::Channel> {
        self.model.channels.iter().find(|c| c.name == name)
    }

    /// The channels the table publishes integration events on, in table order.
    pub fn published_channels(&self) -> impl Iterator<Item = &'a model::Channel> + '_ {
        let model = self.model;
        model.channels.iter().filter(move |channel| {
            model
                .events
                .iter()
                .flat_map(|e| &e.integrations)
                .any(|i| i.channel == channel.name)
        })
    }

    /// The integration events published on the channel named `channel`, in table order.
    pub fn published_on(
        &self,
        channel: &'a str,
    ) -> impl Iterator<Item = &'a model::IntegrationEvent> + 'a {
        self.model
            .events
            .iter()
            .flat_map(|e| &e.integrations)
            .filter(move |i| i.channel == channel)
    }

    /// Where the channel `name`'s subject is written.
    pub fn subject_loc(&self, name: &str) -> Option<SourceLocation> {
        self.loc(self.side.channel(name)?.subject.referenced)
    }

    /// Where the channel `name`'s stream is written.
    pub fn stream_loc(&self, name: &str) -> Option<SourceLocation> {
        self.loc(self.side.channel(name)?.stream.referenced)
    }

    /// The subscription `name` as written.
    pub fn subscription(&self, name: &str) -> Option<&table::Subscription> {
        self.side.table.subscriptions.get(name)
    }

    /// Where the subscription `name` is written (its key).
    pub fn subscription_loc(&self, name: &str) -> Option<SourceLocation> {
        let (key, _) = self.side.table.subscriptions.get_key_value(name)?;
        self.loc(key.location())
    }

    /// Where the subscription `subscription` names event `event` (its key under `events:`),
    /// or the subscription when it cannot be found.
    pub fn subscribed_loc(&self, subscription: &str, event: &str) -> Option<SourceLocation> {
        self.subscription(subscription)
            .and_then(|s| s.events.get_key_value(event))
            .and_then(|(key, _)| self.loc(key.location()))
            .or_else(|| self.subscription_loc(subscription))
    }

    /// Where the integration event `name` is written (its `name:` value).
    pub fn integration_loc(&self, name: &str) -> Option<SourceLocation> {
        let (_, row) = self.side.integration(name)?;
        self.loc(row.name.referenced)
    }
}

/// A channel of a producer that a subscription consumes: same subject and stream.
pub(crate) struct Producer<'s, 'a> {
    /// The producing table.
    pub service: &'s Service<'a>,
    /// Its channel.
    pub channel: &'a model::Channel,
}

/// A subscription and the producers' channels it consumes.
pub(crate) struct Resolved<'s, 'a> {
    /// The consuming table.
    pub consumer: &'s Service<'a>,
    /// The subscription.
    pub subscription: &'a model::Subscription,
    /// The producers' channels with the subscription's subject and stream.
    pub producers: Vec<Producer<'s, 'a>>,
}

/// The diagnostics found so far, each with the index of the table it is located in.
#[derive(Default)]
pub(crate) struct Found {
    list: Vec<(usize, Diagnostic)>,
}

impl Found {
    /// Records a problem of `rule` located in the table of `service`; returns its
    /// diagnostic, to add notes and a hint.
    pub fn add(
        &mut self,
        service: &Service<'_>,
        rule: Rule,
        message: String,
        location: Option<SourceLocation>,
    ) -> &mut Diagnostic {
        self.list
            .push((service.index, Diagnostic::new(rule, message).at(location)));
        let last = self.list.len() - 1;
        &mut self.list[last].1
    }

    /// The diagnostics, each with the index of its table.
    pub fn into_list(self) -> Vec<(usize, Diagnostic)> {
        self.list
    }
}

/// `items` as a person reads a list: `` `a`, `b` ``, `(none)` when empty.
pub(crate) fn list<S: AsRef<str>>(items: &[S]) -> String {
    crate::validate::suggest::list(items)
}
