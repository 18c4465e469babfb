//! Names: the Rust names the generated module takes, the service name, and Rust paths.

use std::collections::HashMap;

use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::ce_type;
use crate::rules;
use crate::rust_names;
use crate::table::Table;

impl Validator<'_> {
    /// Names in the generated module must not collide after Rust case conversion
    /// (`OrderCreated` and `order_created` both give `ORDER_CREATED`), nor take a name the
    /// module defines itself (`channels::ALL`, `register_integration_event_handlers`).
    pub(super) fn generated_names(&mut self, table: &Table) {
        // (namespace, Rust name) -> (what, table name, where)
        let mut taken: HashMap<(&'static str, String), (String, Location)> = HashMap::new();
        let mut claim =
            |v: &mut Self, namespace: &'static str, rust: String, what: String, at: Location| {
                let reserved = matches!(
                    (namespace, rust.as_str()),
                    ("channels", "ALL") | ("fn", "register_integration_event_handlers")
                ) || (namespace == "subscription consts"
                    && (rust.ends_with("::DURABLE") || rust.ends_with("::EVENTS")));
                if reserved {
                    v.cx.error(
                    rules::NAME_COLLISION,
                    at,
                    format!(
                        "{what} would generate `{rust}`, a name the generated module uses itself"
                    ),
                )
                .hint = Some("choose another name".into());
                    return;
                }
                match taken.get(&(namespace, rust.clone())) {
                    // The same name twice is `duplicate-integration-event`'s to report.
                    Some((first, _)) if *first == what => {}
                    Some((first, first_at)) => {
                        let note = v.cx.loc(*first_at);
                        let d = v.cx.error(
                            rules::NAME_COLLISION,
                            at,
                            format!("{what} and {first} both generate the Rust name `{rust}`"),
                        );
                        d.notes.push((format!("{first} is here"), note));
                    }
                    None => {
                        taken.insert((namespace, rust), (what, at));
                    }
                }
            };
        for (key, _) in &table.channels {
            let what = format!("channel `{}`", key.as_str());
            claim(
                self,
                "channels",
                rust_names::const_ident(key.as_str()),
                what.clone(),
                key.location(),
            );
            claim(
                self,
                "type",
                format!("{}IntegrationEvent", rust_names::upper_camel(key.as_str())),
                what,
                key.location(),
            );
        }
        for (key, entry) in &table.events {
            let integrations = entry.value.integrations();
            claim(
                self,
                "domain_events",
                rust_names::const_ident(key.as_str()),
                format!("domain event `{}`", key.as_str()),
                key.location(),
            );
            for integration in integrations {
                let name = &integration.name;
                let what = format!("integration event `{}`", name.value);
                claim(
                    self,
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
                    claim(
                        self,
                        "integration_events",
                        ce_type::const_ident(&name.value),
                        format!("the `ce_type` of integration event `{}`", name.value),
                        ce_type.referenced,
                    );
                }
                claim(
                    self,
                    "fn",
                    rust_names::fn_ident(&name.value),
                    what.clone(),
                    name.referenced,
                );
                claim(
                    self,
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
        for (key, subscription) in &table.subscriptions {
            let what = format!("subscription `{}`", key.as_str());
            let camel = rust_names::upper_camel(key.as_str());
            for suffix in ["Event", "Handler", "Router"] {
                claim(
                    self,
                    "type",
                    format!("{camel}{suffix}"),
                    what.clone(),
                    key.location(),
                );
            }
            claim(
                self,
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
                    claim(
                        self,
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
                    claim(
                        self,
                        namespace,
                        format!("{}::{rust}", key.as_str()),
                        what.clone(),
                        event.location(),
                    );
                }
            }
        }
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
