//! One side of a comparison: the table re-read from the analysis' sources (for its spans)
//! and the compiled protos.

use std::path::Path;

use prost_reflect::MessageDescriptor;
use serde_saphyr::Location;

use crate::Analysis;
use crate::diagnostic::SourceLocation;
use crate::protos::ProtoSet;
use crate::table::{self, Channel, Integration, Key, Table};

/// A table and its protos, as one side of the comparison sees them.
pub(crate) struct Side<'a> {
    /// The table file as diagnostics name it.
    pub file: &'a Path,
    /// The table's text.
    text: &'a str,
    /// The parsed table.
    pub table: Table,
    /// The compiled protos, when they compiled.
    pub protos: Option<&'a ProtoSet>,
}

impl<'a> Side<'a> {
    /// The side of `analysis`, when its table parses.
    pub fn of(analysis: &'a Analysis) -> Option<Side<'a>> {
        let text = analysis.sources.get(&analysis.file)?;
        let table = table::parse(&analysis.file, text).ok()?;
        Some(Side {
            file: &analysis.file,
            text,
            table,
            protos: analysis.protos.as_ref(),
        })
    }

    /// A location in this side's table.
    pub fn loc(&self, at: Location) -> Option<SourceLocation> {
        Some(table::location(self.file, at))
    }

    /// Every integration event with its domain event's key, in table order.
    pub fn integrations(&self) -> impl Iterator<Item = (&Key, &Integration)> {
        self.table
            .events
            .iter()
            .flat_map(|(key, list)| list.value.integrations().iter().map(move |i| (key, i)))
    }

    /// The first integration event named `name`.
    pub fn integration(&self, name: &str) -> Option<(&Key, &Integration)> {
        self.integrations().find(|(_, i)| i.name.value == name)
    }

    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.table.channels.get(name)
    }

    /// The domain event key named `name`.
    pub fn domain_event(&self, name: &str) -> Option<&Key> {
        self.table.events.get_key_value(name).map(|(key, _)| key)
    }

    /// The proto message named `full_name`.
    pub fn message(&self, full_name: &str) -> Option<MessageDescriptor> {
        self.protos?.message(full_name)
    }

    /// Where the top-level `events:` key is written (the table keeps no span for it).
    pub fn events_key(&self) -> Option<SourceLocation> {
        let line = self.text.lines().position(|line| {
            line.strip_prefix("events")
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })?;
        Some(SourceLocation {
            file: self.file.to_path_buf(),
            line: line + 1,
            column: 1,
            len: "events".len(),
        })
    }
}
