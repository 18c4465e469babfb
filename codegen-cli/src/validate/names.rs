//! Names: the Rust names the generated module takes, the service name, and Rust paths.

use std::collections::HashMap;

use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::ce_type;
use super::ctxt::Ctxt;
use crate::rules;
use crate::rust_names;
use crate::table::Table;

/// The Rust names the generated module takes so far: (namespace, Rust name) -> (what, where).
#[derive(Default)]
struct Names {
    taken: HashMap<(&'static str, String), (String, Location)>,
}

impl Validator<'_> {
    /// Names in the generated module must not collide after Rust case conversion
    /// (`OrderCreated` and `order_created` both give `ORDER_CREATED`), nor take a name the
    /// module defines itself (`channels::ALL`, `register_integration_event_handlers`,
    /// `DomainEventRouter`).
    pub(super) fn generated_names(&mut self, table: &Table) {
        let mut names = Names::default();
        names.channels(&mut self.cx, table);
        names.events(&mut self.cx, table);
        names.subscriptions(&mut self.cx, table);
    }

    pub(super) fn service(&mut self, service: &Spanned<String>) {
        let ok = !service.value.is_empty()
            && service
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c));
        if !ok {
            self.cx
                .error(
                    rules::INVALID_SERVICE,
                    service.referenced,
                    format!(
                        "service name `{}` is not a valid CloudEvents source",
                        service.value
                    ),
                )
                .hint = Some("use letters, digits and `-_./:` only, e.g. `ordering`".into());
        }
    }

    pub(super) fn rust_path(&mut self, path: &Spanned<String>, what: &str) -> bool {
        if rust_names::is_rust_path(&path.value) {
            return true;
        }
        self.cx
            .error(
                rules::INVALID_RUST_PATH,
                path.referenced,
                format!("{what} `{}` is not a Rust path", path.value),
            )
            .hint = Some("write a path such as `crate::domain::events`".into());
        false
    }
}

impl Names {
    /// Takes the Rust name `rust` in `namespace` for `what` (written at `at`), reporting a
    /// name the module uses itself or one already taken by something else.
    fn claim(
        &mut self,
        cx: &mut Ctxt<'_>,
        namespace: &'static str,
        rust: String,
        what: String,
        at: Location,
    ) {
        let reserved = matches!(
            (namespace, rust.as_str()),
            ("channels", "ALL")
                | ("fn", "register_integration_event_handlers")
                | ("type", "DomainEventRouter")
        ) || (namespace == "subscription consts"
            && (rust.ends_with("::DURABLE") || rust.ends_with("::EVENTS")));
        if reserved {
            cx.error(
                rules::NAME_COLLISION,
                at,
                format!("{what} would generate `{rust}`, a name the generated module uses itself"),
            )
            .hint = Some("choose another name".into());
            return;
        }
        match self.taken.get(&(namespace, rust.clone())) {
            // The same name twice is `duplicate-integration-event`'s to report.
            Some((first, _)) if *first == what => {}
            Some((first, first_at)) => {
                let note = cx.loc(*first_at);
                let d = cx.error(
                    rules::NAME_COLLISION,
                    at,
                    format!("{what} and {first} both generate the Rust name `{rust}`"),
                );
                d.notes.push((format!("{first} is here"), note));
            }
            None => {
                self.taken.insert((namespace, rust), (what, at));
            }
        }
    }

    /// The names of each channel: its constant and its enum.
    fn channels(&mut self, cx: &mut Ctxt<'_>, table: &Table) {
        for (key, _) in &table.channels {
            let what = format!("channel `{}`", key.as_str());
            self.claim(
                cx,
                "channels",
                rust_names::const_ident(key.as_str()),
                what.clone(),
                key.location(),
            );
            self.claim(
                cx,
                "type",
                format!("{}IntegrationEvent", rust_names::type_prefix(key.as_str())),
                what,
                key.location(),
            );
        }
    }

    /// The names of each domain event and of its integration events.
    fn events(&mut self, cx: &mut Ctxt<'_>, table: &Table) {
        for (key, entry) in &table.events {
            let integrations = entry.value.integrations();
            self.claim(
                cx,
                "domain_events",
                rust_names::const_ident(key.as_str()),
                format!("domain event `{}`", key.as_str()),
                key.location(),
            );
            for integration in integrations {
                let name = &integration.name;
                let what = format!("integration event `{}`", name.value);
                self.claim(
                    cx,
                    "integration_events",
                    rust_names::const_ident(&name.value),
                    what.clone(),
                    name.referenced,
                );
                if let Some(ce_type) = integration
                    .ce_type
                    .as_ref()
                    .filter(|t| t.value != name.value)
                {
                    self.claim(
                        cx,
                        "integration_events",
                        ce_type::const_ident(&name.value),
                        format!("the `ce_type` of integration event `{}`", name.value),
                        ce_type.referenced,
                    );
                }
                self.claim(
                    cx,
                    "fn",
                    rust_names::fn_ident(&name.value),
                    what.clone(),
                    name.referenced,
                );
                self.claim(
                    cx,
                    "variant",
                    format!(
                        "{}::{}",
                        integration.channel.value,
                        rust_names::upper_camel(&name.value)
                    ),
                    what,
                    name.referenced,
                );
            }
        }
    }

    /// The names of each subscription and of the events it receives.
    fn subscriptions(&mut self, cx: &mut Ctxt<'_>, table: &Table) {
        for (key, subscription) in &table.subscriptions {
            let what = format!("subscription `{}`", key.as_str());
            let camel = rust_names::type_prefix(key.as_str());
            for suffix in ["Event", "Handler", "Router"] {
                self.claim(
                    cx,
                    "type",
                    format!("{camel}{suffix}"),
                    what.clone(),
                    key.location(),
                );
            }
            self.claim(
                cx,
                "subscriptions",
                rust_names::fn_ident(key.as_str()),
                what,
                key.location(),
            );
            for (event, received) in &subscription.events {
                let what = format!(
                    "event `{}` of subscription `{}`",
                    event.as_str(),
                    key.as_str()
                );
                if let Some(ce_type) = received
                    .value
                    .ce_type()
                    .filter(|t| t.value != event.as_str())
                {
                    self.claim(
                        cx,
                        "subscription consts",
                        format!("{}::{}", key.as_str(), ce_type::const_ident(event.as_str())),
                        format!("the `ce_type` of {what}"),
                        ce_type.referenced,
                    );
                }
                for (namespace, rust) in [
                    (
                        "subscription consts",
                        rust_names::const_ident(event.as_str()),
                    ),
                    ("subscription methods", rust_names::fn_ident(event.as_str())),
                ] {
                    self.claim(
                        cx,
                        namespace,
                        format!("{}::{rust}", key.as_str()),
                        what.clone(),
                        event.location(),
                    );
                }
            }
        }
    }
}
