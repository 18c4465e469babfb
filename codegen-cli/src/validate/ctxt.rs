//! The diagnostics collector the validator reports through (after serde_derive's
//! `internals::Ctxt`): every problem is pushed here, located in the table, and the whole
//! list is taken once checking is done.

use std::collections::HashSet;
use std::path::Path;

use serde_saphyr::Location;

use crate::diagnostic::{Diagnostic, SourceLocation};
use crate::rules::Rule;
use crate::table;

/// The diagnostics found so far, and the table file they point into.
pub(super) struct Ctxt<'a> {
    file: &'a Path,
    diagnostics: Vec<Diagnostic>,
}

impl<'a> Ctxt<'a> {
    /// An empty collector for the table `file`.
    pub(super) fn new(file: &'a Path) -> Self {
        Ctxt {
            file,
            diagnostics: Vec::new(),
        }
    }

    /// The table file.
    pub(super) fn file(&self) -> &'a Path {
        self.file
    }

    /// `location` as a place in the table file.
    pub(super) fn loc(&self, location: Location) -> Option<SourceLocation> {
        Some(table::location(self.file, location))
    }

    /// Reports a problem of `rule` at `location` in the table; returns its diagnostic, to add
    /// a hint or notes.
    pub(super) fn error(
        &mut self,
        rule: Rule,
        location: Location,
        message: impl Into<String>,
    ) -> &mut Diagnostic {
        let diagnostic = Diagnostic::new(rule, message).at(self.loc(location));
        self.diagnostics.push(diagnostic);
        let last = self.diagnostics.len() - 1;
        &mut self.diagnostics[last]
    }

    /// Reports diagnostics found elsewhere (in the protos, say).
    pub(super) fn extend(&mut self, diagnostics: impl IntoIterator<Item = Diagnostic>) {
        self.diagnostics.extend(diagnostics);
    }

    /// Every diagnostic, in order, each reported once: a named enum or oneof mapping is
    /// checked at each use, and one mistake in it, used by two fields, is one diagnostic.
    pub(super) fn finish(self) -> Vec<Diagnostic> {
        let mut diagnostics = self.diagnostics;
        let mut seen = HashSet::new();
        diagnostics.retain(|d| {
            seen.insert((
                d.rule,
                d.location
                    .as_ref()
                    .map(|l| (l.file.clone(), l.line, l.column)),
                d.message.clone(),
            ))
        });
        diagnostics
    }
}
