//! Event rows: domain events, their integration events, and the proto messages they carry.

use std::collections::{HashMap, HashSet};

use prost_reflect::MessageDescriptor;
use serde_saphyr::{Location, Spanned};

use super::Validator;
use super::ce_type;
use super::proto_types::WELL_KNOWN_PACKAGE;
use super::suggest::{list, suggest_qualified};
use crate::model::{DomainEvent, IntegrationEvent, MessageType};
use crate::rules;
use crate::rust_names;
use crate::table::{self, Key, Table};

impl Validator<'_> {
    pub(super) fn domain_event(
        &mut self,
        table: &Table,
        key: &Key,
        integrations: &[table::Integration],
        used_channels: &mut HashSet<String>,
        integration_names: &mut HashMap<String, Location>,
    ) -> DomainEvent {
        if !rust_names::is_identifier(key.as_str()) {
            self.cx.error(
                rules::INVALID_NAME,
                key.location(),
                format!(
                    "domain event name `{}` is not a valid Rust identifier",
                    key.as_str()
                ),
            );
        }
        let mut out = Vec::new();
        for integration in integrations {
            if let Some(ie) =
                self.integration(table, key, integration, used_channels, integration_names)
            {
                out.push(ie);
            }
        }
        DomainEvent {
            name: key.as_str().to_owned(),
            location: self.cx.loc(key.location()),
            integrations: out,
            internal_type: None,
        }
    }

    pub(super) fn integration(
        &mut self,
        table: &Table,
        domain: &Key,
        integration: &table::Integration,
        used_channels: &mut HashSet<String>,
        integration_names: &mut HashMap<String, Location>,
    ) -> Option<IntegrationEvent> {
        let name = &integration.name;
        self.integration_name(name, integration_names);

        let channel = &integration.channel;
        self.channel_ref(table, channel, used_channels);

        let domain_type = self.domain_type(table, domain, integration);

        let Some(descriptor) = self.message(&integration.message) else {
            self.unchecked_uses(&integration.fields);
            return None;
        };
        if descriptor.package_name() == WELL_KNOWN_PACKAGE {
            self.unchecked_uses(&integration.fields);
            self.cx.error(
                rules::WELL_KNOWN_TYPE,
                integration.message.referenced,
                format!(
                    "`{}` is a protobuf well-known type; an integration event needs a message of its own",
                    descriptor.full_name()
                ),
            );
            return None;
        }
        let message = self.message_type(table, &descriptor);
        let fields = self.fields(
            table,
            &descriptor,
            &integration.fields,
            integration.message.referenced,
        );
        Some(IntegrationEvent {
            name: name.value.clone(),
            ce_type: integration
                .ce_type
                .as_ref()
                .map_or_else(|| name.value.clone(), |t| t.value.clone()),
            domain_type,
            channel: channel.value.clone(),
            message,
            fields,
        })
    }

    /// Checks an integration event's name: an identifier, and unique in the table.
    fn integration_name(
        &mut self,
        name: &Spanned<String>,
        integration_names: &mut HashMap<String, Location>,
    ) {
        if !rust_names::is_identifier(&name.value) {
            self.cx.error(
                rules::INVALID_NAME,
                name.referenced,
                format!("integration event name `{}` is not a valid Rust identifier and NATS subject token", name.value),
            )
            .hint = Some(ce_type::name_hint(&name.value));
        } else if let Some(first) = integration_names.get(&name.value).copied() {
            let note = self.cx.loc(first);
            self.cx
                .error(
                    rules::DUPLICATE_INTEGRATION_EVENT,
                    name.referenced,
                    format!("integration event `{}` is defined twice", name.value),
                )
                .notes
                .push(("first defined here".into(), note));
        } else {
            integration_names.insert(name.value.clone(), name.referenced);
        }
    }

    /// The Rust type of a row's domain event: its `type`, or the event's name in
    /// `rust.domain_module`.
    fn domain_type(
        &mut self,
        table: &Table,
        domain: &Key,
        integration: &table::Integration,
    ) -> String {
        match (&integration.rust_type, &table.rust.domain_module) {
            (Some(t), _) => {
                self.rust_path(t, "domain event type");
                t.value.clone()
            }
            (None, Some(module)) => self
                .default_domain_type(&module.value, domain)
                .unwrap_or_default(),
            (None, None) => {
                self.cx.error(
                    rules::MISSING_DOMAIN_MODULE,
                    domain.location(),
                    format!(
                        "domain event `{}` has no Rust type: the table has no `rust.domain_module` and the row no `type`",
                        domain.as_str()
                    ),
                )
                .hint = Some(
                    "add `domain_module: crate::domain::events` under `rust:`, or `type: crate::path::Event` to the row".into(),
                );
                String::new()
            }
        }
    }

    /// `module::Key`, the Rust type of domain event `domain` without a `type`: a keyword
    /// written raw (`r#type`); `None`, reported, for a name that cannot end a Rust path
    /// (`Self`, `self`, `super`, `crate`, `_`, or no identifier, such as `order.created`).
    fn default_domain_type(&mut self, module: &str, domain: &Key) -> Option<String> {
        if let Some(segment) = rust_names::path_segment(domain.as_str()) {
            return Some(format!("{module}::{segment}"));
        }
        self.cx
            .error(
                rules::INVALID_RUST_PATH,
                domain.location(),
                format!(
                    "domain event `{}` cannot be a Rust type of `{module}`: `{module}::{}` is not a Rust path",
                    domain.as_str(),
                    domain.as_str()
                ),
            )
            .hint = Some(format!(
            "name the domain event's type on each of its rows: `type: {module}::YourType`"
        ));
        None
    }

    pub(super) fn message(&mut self, name: &Spanned<String>) -> Option<MessageDescriptor> {
        if let Some(m) = self.protos.message(&name.value) {
            return Some(m);
        }
        let names: Vec<String> = self
            .protos
            .pool()
            .all_messages()
            .map(|m| m.full_name().to_owned())
            .collect();
        let qualified = self.protos.messages_ending_with(&name.value);
        let hint = match qualified.as_slice() {
            [one] => format!("did you mean `{one}`? (write the full name, with the package)"),
            [_, ..] => format!(
                "did you mean one of {}? (write the full name, with the package)",
                list(&qualified)
            ),
            [] => suggest_qualified(&name.value, names.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "write the full name: `package.Message`".into()),
        };
        self.cx
            .error(
                rules::UNKNOWN_PROTO_MESSAGE,
                name.referenced,
                format!(
                    "proto message `{}` is not defined in the table's protos",
                    name.value
                ),
            )
            .hint = Some(hint);
        None
    }

    pub(super) fn message_type(&self, table: &Table, message: &MessageDescriptor) -> MessageType {
        MessageType {
            oneofs: message
                .oneofs()
                .filter(|o| !o.is_synthetic())
                .map(|o| rust_names::field_ident(o.name()))
                .collect(),
            full_name: message.full_name().to_owned(),
            rust_path: if message.full_name() == "google.protobuf.Empty" {
                // prost-build maps `Empty` to `()`.
                "()".to_owned()
            } else if message.package_name() == WELL_KNOWN_PACKAGE {
                // prost-build's default extern path for the well-known types.
                rust_names::message_path("::prost_types", "", message.name())
            } else {
                rust_names::message_path(
                    &table.rust.proto_module.value,
                    message.package_name(),
                    message.full_name(),
                )
            },
        }
    }

    /// Every row of `events:`: its domain event, its integration events (or `internal`).
    pub(super) fn domain_events(
        &mut self,
        table: &Table,
        used_channels: &mut HashSet<String>,
    ) -> Vec<DomainEvent> {
        let mut integration_names: HashMap<String, Location> = HashMap::new();
        let mut events = Vec::new();
        for (key, entry) in &table.events {
            if matches!(&entry.value, table::EventEntry::Integrations(list) if list.is_empty()) {
                self.cx
                    .error(
                        rules::EMPTY_EVENT,
                        entry.referenced,
                        format!(
                            "domain event `{}` maps to no integration event",
                            key.as_str()
                        ),
                    )
                    .hint = Some(format!(
                    "write `{}: internal` to keep it inside the service on purpose",
                    key.as_str()
                ));
            }
            let mut event = self.domain_event(
                table,
                key,
                entry.value.integrations(),
                used_channels,
                &mut integration_names,
            );
            if let table::EventEntry::Internal(rust_type) = &entry.value {
                event.internal_type = match (rust_type, &table.rust.domain_module) {
                    (Some(t), _) => self
                        .rust_path(t, "domain event type")
                        .then(|| t.value.clone()),
                    (None, Some(module)) => self.default_domain_type(&module.value, key),
                    (None, None) => None,
                };
            }
            events.push(event);
        }
        events
    }
}
