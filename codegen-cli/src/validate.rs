//! Checks a parsed table against its protos and builds the [`Model`].
//!
//! Every problem found becomes a [`Diagnostic`]; the whole table is checked in one run so
//! that all problems are reported together. Rule ids are listed in `docs/mappings.md`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use prost_reflect::{Cardinality, FieldDescriptor, Kind, MessageDescriptor};
use serde_saphyr::{Location, Spanned};

use crate::diagnostic::{Diagnostic, SourceLocation};
use crate::model::{
    Channel, Conversion, DomainEvent, Envelope, Field, IntegrationEvent, Literal, MessageType,
    Model, OneofMember, Shape, Value,
};
use crate::protos::ProtoSet;
use crate::rules::{self, Rule};
use crate::rust_names;
use crate::table::{self, FieldSource, FieldSpec, Key, Table};

mod ce_type;
mod mappings;
mod oneof;
mod subscriptions;

pub use ce_type::check_ce_type;

/// The result of checking a table: the model when there were no errors, and every
/// diagnostic (errors and warnings) in table order.
#[derive(Debug)]
pub struct Checked {
    /// The model, present when no diagnostic is an error.
    pub model: Option<Model>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Checks `table` (read from `file`, whose folder is `base`) against `protos`.
pub fn check(table: &Table, file: &Path, base: &Path, protos: &ProtoSet) -> Checked {
    let mut v = Validator {
        file,
        protos,
        diagnostics: Vec::new(),
        named_messages: HashMap::new(),
        used_mappings: HashSet::new(),
        mapping_uses: Vec::new(),
        in_mapping: None,
    };
    v.diagnostics.extend(crate::proto_names::check(protos));
    let model = v.table(table, base);
    // A named enum or oneof mapping is checked at each use: one mistake in it, used by two
    // fields, is one diagnostic.
    let mut seen = HashSet::new();
    v.diagnostics.retain(|d| {
        seen.insert((
            d.rule,
            d.location
                .as_ref()
                .map(|l| (l.file.clone(), l.line, l.column)),
            d.message.clone(),
        ))
    });
    let has_errors = v.diagnostics.iter().any(Diagnostic::is_error);
    Checked {
        model: if has_errors { None } else { Some(model) },
        diagnostics: v.diagnostics,
    }
}

struct Validator<'a> {
    file: &'a Path,
    protos: &'a ProtoSet,
    diagnostics: Vec<Diagnostic>,
    /// The named message mappings declared under `mappings:`, by name.
    named_messages: HashMap<String, mappings::NamedMessage>,
    /// Names of the `mappings:` that a field of an event row or subscription uses.
    used_mappings: HashSet<String>,
    /// (user, used): a named message mapping whose fields use another mapping (or itself).
    /// A mapping only such uses reach from no row is unused.
    mapping_uses: Vec<(String, String)>,
    /// The named message mapping whose fields are being checked: they are converted from
    /// the domain value alone, without the event's envelope.
    in_mapping: Option<String>,
}

impl Validator<'_> {
    fn loc(&self, location: Location) -> Option<SourceLocation> {
        Some(table::location(self.file, location))
    }

    fn error(
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

    fn table(&mut self, table: &Table, base: &Path) -> Model {
        if table.version.value != 1 {
            self.error(
                rules::UNSUPPORTED_VERSION,
                table.version.referenced,
                format!(
                    "mapping format version {} is not supported",
                    table.version.value
                ),
            )
            .hint = Some("this eventmap reads `version: 1`".into());
        }
        self.service(&table.service);
        if let Some(module) = &table.rust.domain_module {
            self.rust_path(module, "rust.domain_module");
        }
        self.rust_path(&table.rust.proto_module, "rust.proto_module");
        let channels = self.channels(&table.channels);
        self.declare_mappings(table);
        let mut used_channels = HashSet::new();
        let mut integration_names: HashMap<String, Location> = HashMap::new();
        let mut events = Vec::new();
        for (key, entry) in &table.events {
            if matches!(&entry.value, table::EventEntry::Integrations(list) if list.is_empty()) {
                self.error(
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
                &mut used_channels,
                &mut integration_names,
            );
            if let table::EventEntry::Internal(rust_type) = &entry.value {
                event.internal_type = match (rust_type, &table.rust.domain_module) {
                    (Some(t), _) => self
                        .rust_path(t, "domain event type")
                        .then(|| t.value.clone()),
                    (None, Some(module)) => Some(format!("{}::{}", module.value, key.as_str())),
                    (None, None) => None,
                };
            }
            events.push(event);
        }
        let subscriptions = self.subscriptions(table, &mut used_channels);
        let mappings = self.message_mappings(table);
        self.unused_mappings(table);
        self.ce_types(table);
        self.generated_names(table);
        for (key, _) in &table.channels {
            if !used_channels.contains(key.as_str()) {
                self.error(
                    rules::UNUSED_CHANNEL,
                    key.location(),
                    format!(
                        "channel `{}` is not used by any integration event or subscription",
                        key.as_str()
                    ),
                )
                .hint = Some(
                    "remove it, publish an integration event on it, or subscribe to it".into(),
                );
            }
        }
        let table_name = self.file.file_name().map_or_else(
            || "mappings.yaml".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        Model {
            table_name,
            service: table.service.value.clone(),
            domain_module: table.rust.domain_module.as_ref().map(|m| m.value.clone()),
            proto_module: table.rust.proto_module.value.clone(),
            output: table.rust.output.as_ref().map(|o| base.join(&o.value)),
            channels,
            events,
            subscriptions,
            mappings,
        }
    }

    /// Names in the generated module must not collide after Rust case conversion
    /// (`OrderCreated` and `order_created` both give `ORDER_CREATED`), nor take a name the
    /// module defines itself (`channels::ALL`, `register_integration_event_handlers`).
    fn generated_names(&mut self, table: &Table) {
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
                    v.error(
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
                        let note = v.loc(*first_at);
                        let d = v.error(
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

    fn service(&mut self, service: &Spanned<String>) {
        let ok = !service.value.is_empty()
            && service
                .value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c));
        if !ok {
            self.error(
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

    fn rust_path(&mut self, path: &Spanned<String>, what: &str) -> bool {
        if rust_names::is_rust_path(&path.value) {
            return true;
        }
        self.error(
            rules::INVALID_RUST_PATH,
            path.referenced,
            format!("{what} `{}` is not a Rust path", path.value),
        )
        .hint = Some("write a path such as `crate::domain::events`".into());
        false
    }

    /// Checks a subject prefix (rule `invalid-subject`); whether it is valid.
    fn subject(&mut self, subject: &Spanned<String>) -> bool {
        let Err(why) = check_subject(&subject.value) else {
            return true;
        };
        self.error(
            rules::INVALID_SUBJECT,
            subject.referenced,
            format!(
                "`{}` is not a valid NATS subject prefix: {why}",
                subject.value
            ),
        )
        .hint = Some(
            "use tokens of letters, digits, `-` and `_` separated by `.`, e.g. `ordering.order`"
                .into(),
        );
        false
    }

    /// Checks a stream name (rule `invalid-stream`); whether it is valid.
    fn stream(&mut self, stream: &Spanned<String>) -> bool {
        let Err(why) = check_stream(&stream.value) else {
            return true;
        };
        self.error(
            rules::INVALID_STREAM,
            stream.referenced,
            format!(
                "`{}` is not a valid JetStream stream name: {why}",
                stream.value
            ),
        )
        .hint = Some("use letters, digits, `-` and `_`, e.g. `ORDERING_ORDERS`".into());
        false
    }

    fn channels(&mut self, channels: &IndexMap<Key, table::Channel>) -> Vec<Channel> {
        let mut subjects: HashMap<&str, &str> = HashMap::new();
        let mut out = Vec::new();
        for (key, channel) in channels {
            if !rust_names::is_identifier(key.as_str()) {
                self.error(
                    rules::INVALID_NAME,
                    key.location(),
                    format!("channel name `{}` is not a valid identifier", key.as_str()),
                );
            }
            if self.subject(&channel.subject)
                && let Some(other) = subjects.insert(&channel.subject.value, key.as_str())
            {
                self.error(
                    rules::DUPLICATE_SUBJECT,
                    channel.subject.referenced,
                    format!(
                        "channels `{other}` and `{}` use the same subject `{}`",
                        key.as_str(),
                        channel.subject.value
                    ),
                );
            }
            self.stream(&channel.stream);
            out.push(Channel {
                name: key.as_str().to_owned(),
                subject: channel.subject.value.clone(),
                stream: channel.stream.value.clone(),
            });
        }
        out
    }

    fn domain_event(
        &mut self,
        table: &Table,
        key: &Key,
        integrations: &[table::Integration],
        used_channels: &mut HashSet<String>,
        integration_names: &mut HashMap<String, Location>,
    ) -> DomainEvent {
        if !rust_names::is_identifier(key.as_str()) {
            self.error(
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
            location: self.loc(key.location()),
            integrations: out,
            internal_type: None,
        }
    }

    fn integration(
        &mut self,
        table: &Table,
        domain: &Key,
        integration: &table::Integration,
        used_channels: &mut HashSet<String>,
        integration_names: &mut HashMap<String, Location>,
    ) -> Option<IntegrationEvent> {
        let name = &integration.name;
        if !rust_names::is_identifier(&name.value) {
            self.error(
                rules::INVALID_NAME,
                name.referenced,
                format!("integration event name `{}` is not a valid Rust identifier and NATS subject token", name.value),
            )
            .hint = Some(ce_type::name_hint(&name.value));
        } else if let Some(first) = integration_names.get(&name.value).copied() {
            let note = self.loc(first);
            self.error(
                rules::DUPLICATE_INTEGRATION_EVENT,
                name.referenced,
                format!("integration event `{}` is defined twice", name.value),
            )
            .notes
            .push(("first defined here".into(), note));
        } else {
            integration_names.insert(name.value.clone(), name.referenced);
        }

        let channel = &integration.channel;
        self.channel_ref(table, channel, used_channels);

        let domain_type = match (&integration.rust_type, &table.rust.domain_module) {
            (Some(t), _) => {
                self.rust_path(t, "domain event type");
                t.value.clone()
            }
            (None, Some(module)) => format!("{}::{}", module.value, domain.as_str()),
            (None, None) => {
                self.error(
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
        };

        let descriptor = self.message(&integration.message)?;
        if descriptor.package_name() == WELL_KNOWN_PACKAGE {
            self.error(
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

    /// Checks that `channel` names a channel of the table and records it as used.
    fn channel_ref(
        &mut self,
        table: &Table,
        channel: &Spanned<String>,
        used_channels: &mut HashSet<String>,
    ) -> bool {
        if table.channels.contains_key(channel.value.as_str()) {
            used_channels.insert(channel.value.clone());
            return true;
        }
        let known: Vec<&str> = table.channels.keys().map(Key::as_str).collect();
        let hint = suggest(&channel.value, known.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .unwrap_or_else(|| format!("channels in the table: {}", list(&known)));
        self.error(
            rules::UNKNOWN_CHANNEL,
            channel.referenced,
            format!(
                "channel `{}` is not defined under `channels:`",
                channel.value
            ),
        )
        .hint = Some(hint);
        false
    }

    fn message(&mut self, name: &Spanned<String>) -> Option<MessageDescriptor> {
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
            [] => suggest(&name.value, names.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "write the full name: `package.Message`".into()),
        };
        self.error(
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

    fn message_type(&self, table: &Table, message: &MessageDescriptor) -> MessageType {
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

    /// Checks a field map against `message` and returns the fields in proto order.
    /// `owner` is where the message is named (for "not mapped" errors).
    fn fields(
        &mut self,
        table: &Table,
        message: &MessageDescriptor,
        map: &IndexMap<Key, Spanned<FieldSource>>,
        owner: Location,
    ) -> Vec<Field> {
        // Proto fields that an unknown key probably meant: their "not mapped" error would only
        // repeat the typo's.
        let mut suggested: HashSet<String> = HashSet::new();
        // Oneofs keyed by their own name: set from a domain enum (or left unset), member by
        // member; their members are then neither required nor allowed as keys.
        let mut whole_oneofs: HashMap<String, Location> = HashMap::new();
        let mut out: Vec<Field> = Vec::new();
        for (key, source) in map {
            if message.get_field_by_name(key.as_str()).is_none()
                && let Some(oneof) = message
                    .oneofs()
                    .find(|o| !o.is_synthetic() && o.name() == key.as_str())
            {
                whole_oneofs.insert(oneof.name().to_owned(), key.location());
                if let Some(field) = self.oneof(table, &oneof, key, source) {
                    out.push(field);
                }
                continue;
            }
            if message.get_field_by_name(key.as_str()).is_none()
                && let Some(extension) = message
                    .extensions()
                    .find(|e| e.name() == key.as_str() || e.full_name() == key.as_str())
            {
                suggested.insert(key.as_str().to_owned());
                self.error(
                    rules::UNSUPPORTED_PROTO_FEATURE,
                    key.location(),
                    format!(
                        "`{}` is an extension of `{}`: prost generates no field for extensions, so eventmap cannot set it",
                        extension.full_name(),
                        message.full_name()
                    ),
                )
                .hint = Some("remove it, or declare the value as a field of the message".into());
            } else if message.get_field_by_name(key.as_str()).is_none() {
                let names: Vec<String> = message.fields().map(|f| f.name().to_owned()).collect();
                let suggestion = suggest(key.as_str(), names.iter().map(String::as_str));
                if let Some(name) = suggestion {
                    suggested.insert(name.to_owned());
                }
                let hint = suggestion
                    .map(|s| format!("did you mean `{s}`?"))
                    .unwrap_or_else(|| {
                        format!("fields of `{}`: {}", message.full_name(), list(&names))
                    });
                let note = self.protos.message_location(message);
                let d = self.error(
                    rules::UNKNOWN_PROTO_FIELD,
                    key.location(),
                    format!(
                        "proto message `{}` has no field `{}`",
                        message.full_name(),
                        key.as_str()
                    ),
                );
                d.hint = Some(hint);
                d.notes.push((
                    format!("message `{}` is defined here", message.full_name()),
                    note,
                ));
            }
        }
        let mut oneof_chosen: HashMap<String, (String, Location)> = HashMap::new();
        let mut unmapped_oneofs: HashSet<String> = HashSet::new();
        for field in message.fields() {
            if let Some(oneof) = field.containing_oneof()
                && let Some(at) = whole_oneofs.get(oneof.name()).copied()
            {
                if let Some((key, _)) = map.get_key_value(field.name()) {
                    let note = self.loc(at);
                    let d = self.error(
                        rules::ONEOF_CONFLICT,
                        key.location(),
                        format!(
                            "`{}` is a member of the oneof `{}`, which is mapped as a whole",
                            field.name(),
                            oneof.name()
                        ),
                    );
                    d.notes
                        .push((format!("the oneof `{}` is mapped here", oneof.name()), note));
                    d.hint = Some(format!(
                        "remove `{}` here and map it under the oneof's `variants:`",
                        field.name()
                    ));
                }
                continue;
            }
            if let (Some(oneof), Some((key, source))) = (
                field.containing_oneof().filter(|o| !o.is_synthetic()),
                map.get_key_value(field.name()),
            ) {
                let defaulted = match &source.value {
                    FieldSource::Default => true,
                    FieldSource::Spec(spec) => spec.default.as_ref().is_some_and(|d| d.value),
                };
                if !defaulted {
                    if let Some((first, first_at)) = oneof_chosen.get(oneof.name()).cloned() {
                        let note = self.loc(first_at);
                        let d = self.error(
                            rules::ONEOF_CONFLICT,
                            key.location(),
                            format!(
                                "`{}` and `{first}` are members of the oneof `{}`: only one can be mapped",
                                field.name(),
                                oneof.name()
                            ),
                        );
                        d.notes.push((format!("`{first}` is mapped here"), note));
                        d.hint = Some(format!("write `{}: default`", field.name()));
                        continue;
                    }
                    oneof_chosen.insert(
                        oneof.name().to_owned(),
                        (field.name().to_owned(), key.location()),
                    );
                }
            }
            match map.get_key_value(field.name()) {
                Some((key, source)) => {
                    let location = self.loc(key.location());
                    if let Some(f) = self.field(table, &field, source, location, false) {
                        out.push(f);
                    }
                }
                None if suggested.contains(field.name()) => {}
                // A oneof none of whose members is keyed: one error for the oneof, not one per
                // member.
                None if let Some(oneof) =
                    field.containing_oneof().filter(|o| !o.is_synthetic())
                    && !oneof.fields().any(|f| map.contains_key(f.name())) =>
                {
                    if !unmapped_oneofs.insert(oneof.name().to_owned()) {
                        continue;
                    }
                    let members: Vec<String> =
                        oneof.fields().map(|f| f.name().to_owned()).collect();
                    let note = self.protos.field_location(&field);
                    let d = self.error(
                        rules::UNMAPPED_FIELD,
                        owner,
                        format!(
                            "oneof `{}` of `{}` is not mapped (members: {})",
                            oneof.name(),
                            message.full_name(),
                            list(&members)
                        ),
                    );
                    d.hint = Some(format!(
                        "set it from a domain enum (`{0}: {{ from, enum, variants }}`), map one member (the others `default`), or write `{0}: default` to leave it unset",
                        oneof.name()
                    ));
                    d.notes
                        .push(("its first member is declared here".into(), note));
                }
                None => {
                    let note = self.protos.field_location(&field);
                    let d = self.error(
                        rules::UNMAPPED_FIELD,
                        owner,
                        format!(
                            "proto field `{}` of `{}` is not mapped",
                            field.name(),
                            message.full_name()
                        ),
                    );
                    d.hint = Some(format!(
                        "map it under `fields:`, or write `{}: default` to leave it at its default",
                        field.name()
                    ));
                    d.notes.push(("the field is declared here".into(), note));
                }
            }
        }
        out
    }

    /// Checks one field's source. `arm` is set for the member a oneof arm fills: `default`
    /// then sets the member to its default value rather than leaving the oneof unset.
    fn field(
        &mut self,
        table: &Table,
        field: &FieldDescriptor,
        source: &Spanned<FieldSource>,
        location: Option<SourceLocation>,
        arm: bool,
    ) -> Option<Field> {
        let at = source.referenced;
        let defaulted = match &source.value {
            FieldSource::Default => true,
            FieldSource::Spec(spec) => spec.default.as_ref().is_some_and(|d| d.value),
        };
        let oneof = field.containing_oneof().filter(|o| !o.is_synthetic());
        if oneof.is_some() && defaulted && !arm {
            // prost has one field per oneof (see `MessageType::oneofs`), none per member.
            return None;
        }
        if field.is_group() && !defaulted {
            let note = self.protos.field_location(field);
            let d = self.error(
                rules::UNSUPPORTED_PROTO_FEATURE,
                at,
                format!(
                    "`{}` is a proto2 group: eventmap maps no group fields",
                    field.name()
                ),
            );
            d.hint = Some(format!(
                "write `{}: default`, or make the group a message field",
                field.name()
            ));
            d.notes.push(("the group is declared here".into(), note));
            return None;
        }
        // As prost-build represents the field (`CodeGenerator::optional`): a proto2 `required`
        // field is the plain `T` (a message too), a proto2 or proto3 `optional` scalar or enum is `Option<T>`,
        // and so is a wrapper type (`StringValue` is `Option<String>`, `Empty` `Option<()>`).
        let required = field.cardinality() == Cardinality::Required;
        if required && defaulted && field.field_descriptor_proto().default_value.is_none() {
            // prost fills a proto2 `required` field with its type's zero value: a consumer
            // cannot tell it from a real value, which is what `required` exists to prevent.
            let note = self.protos.field_location(field);
            let d = self.error(
                rules::DEFAULT_ON_REQUIRED,
                at,
                format!(
                    "proto2 `required` field `{}` is left at its default: every message carries its zero value, as if it were set",
                    field.name()
                ),
            );
            d.hint = Some(format!(
                "map `{}` from the domain, or give it a `[default = ...]` in the .proto when a default is meant",
                field.name()
            ));
            d.notes.push(("the field is declared here".into(), note));
        }
        let shape = if field.is_list() {
            Shape::Repeated
        } else if oneof.is_some() || (required && matches!(field.kind(), Kind::Message(_))) {
            // A oneof member, and a proto2 `required` message (prost: `M`, not `Option<M>`).
            if is_boxed(field) {
                Shape::Boxed
            } else {
                Shape::Singular
            }
        } else if is_boxed(field) {
            Shape::BoxedMessage
        } else if wrapper_scalar(field).is_some() {
            Shape::Optional
        } else if matches!(field.kind(), Kind::Message(_)) && !field.is_map() {
            Shape::Message
        } else if field.supports_presence() && field.cardinality() == Cardinality::Optional {
            Shape::Optional
        } else {
            Shape::Singular
        };
        let oneof = oneof.map(|o| OneofMember {
            oneof: rust_names::field_ident(o.name()),
            enum_path: self.oneof_enum_path(table, &o),
            variant: rust_names::type_ident(field.name()),
        });
        let value = match &source.value {
            FieldSource::Default => Value::Default,
            FieldSource::Spec(spec) => self.field_spec(table, field, shape, spec, at)?,
        };
        Some(Field {
            proto_name: field.name().to_owned(),
            rust_name: rust_names::field_ident(field.name()),
            shape,
            value,
            oneof,
            location,
            prost_type: prost_type(field, shape),
        })
    }

    fn field_spec(
        &mut self,
        table: &Table,
        field: &FieldDescriptor,
        shape: Shape,
        spec: &FieldSpec,
        at: Location,
    ) -> Option<Value> {
        // `with`, `fields` and `mapping` without `from` take the whole domain value in scope.
        let converts = [
            (spec.with.is_some(), "with"),
            (spec.fields.is_some(), "fields"),
            (spec.mapping.is_some(), "mapping"),
        ];
        let other_source =
            spec.envelope.is_some() || spec.constant.is_some() || spec.default.is_some();
        if spec.from.is_none()
            && other_source
            && let Some((_, key)) = converts.iter().find(|(present, _)| *present)
        {
            self.error(
                    rules::INVALID_FIELD_SOURCE,
                    at,
                    format!(
                        "`{key}` converts a domain value (`from`, or without `from` the whole value in scope); it cannot take `envelope`, `const` or `default`"
                    ),
                );
            return None;
        }
        let whole = spec.from.is_none() && converts.iter().any(|(present, _)| *present);
        let chosen = [
            spec.from.is_some() || whole,
            spec.envelope.is_some(),
            spec.constant.is_some(),
            spec.default.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if chosen != 1 {
            self.error(
                rules::INVALID_FIELD_SOURCE,
                at,
                format!(
                    "field `{}` needs exactly one of `from`, `envelope`, `const`, `default` (found {chosen})",
                    field.name()
                ),
            )
            .hint = (chosen == 0).then(|| {
                "`from: self` takes the whole domain value in scope (the event, an element, a variant's content)".into()
            });
            return None;
        }
        for (present, key) in [
            (spec.checked.is_some(), "checked"),
            (spec.enum_type.is_some(), "enum"),
            (spec.values.is_some(), "values"),
        ] {
            if present && spec.from.is_none() {
                self.error(
                    rules::INVALID_FIELD_SOURCE,
                    at,
                    format!("`{key}` needs `from`"),
                )
                .hint = Some("`from: self` takes the whole domain value in scope".into());
                return None;
            }
        }
        if let Some(variants) = &spec.variants {
            self.error(
                rules::INVALID_FIELD_SOURCE,
                variants.first().map_or(at, |(k, _)| k.location()),
                format!(
                    "`variants` maps a domain enum onto a oneof; `{}` is a field: write `variants` under the oneof's name",
                    field.name()
                ),
            );
            return None;
        }
        if spec.enum_type.is_some() != spec.values.is_some() {
            self.error(rules::INVALID_FIELD_SOURCE, at, "`enum` and `values` go together")
                .hint = Some("`enum: crate::domain::Status` names the domain enum, `values:` maps each of its variants to a proto value name".into());
            return None;
        }
        let conversions = [
            spec.fields.is_some(),
            spec.checked.is_some(),
            spec.enum_type.is_some(),
            spec.mapping.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if conversions > 1 {
            self.error(
                rules::INVALID_FIELD_SOURCE,
                at,
                "`fields`, `checked`, `enum` and `mapping` exclude each other",
            );
            return None;
        }
        if field.is_map() && spec.enum_type.is_some() {
            self.error(
                rules::UNSUPPORTED_FIELD,
                at,
                format!(
                    "map field `{}` converts as a whole with `from` (and `with`), or value by value with `fields` or `mapping`",
                    field.name()
                ),
            );
            return None;
        }
        if let Some(envelope) = &spec.envelope
            && self.in_mapping.is_some()
        {
            self.error(
                rules::INVALID_FIELD_SOURCE,
                envelope.referenced,
                "a named mapping converts a domain value alone: it has no event envelope",
            )
            .hint = Some("map the envelope value on the row that uses the mapping".into());
            return None;
        }

        if let Some(default) = &spec.default {
            if !default.value {
                self.error(
                    rules::INVALID_FIELD_SOURCE,
                    default.referenced,
                    "`default: false` means nothing; map the field instead",
                )
                .hint = Some("write `default` or `{ default: true }`".into());
                return None;
            }
            return Some(Value::Default);
        }
        if spec.from.is_some() || whole {
            let (path, from_at) = match &spec.from {
                Some(from) => (self.domain_path(from)?, from.referenced),
                None => (Vec::new(), at),
            };
            // A map's values: the value field of its entry message.
            let value_kind = if field.is_map() {
                match field.kind() {
                    Kind::Message(entry) => entry.map_entry_value_field().kind(),
                    kind => kind,
                }
            } else {
                field.kind()
            };
            if let Some(name) = &spec.mapping {
                if spec.with.is_some() {
                    // The mapping converts the value itself: a `with:` would be ignored.
                    self.error(
                        rules::INVALID_FIELD_SOURCE,
                        at,
                        "`with` and `mapping` cannot be used together",
                    )
                    .hint = Some(
                        "a message mapping converts the domain value itself; give its `type` the value `from` names"
                            .into(),
                    );
                    return None;
                }
                return self.use_mapping(table, field, &value_kind, path, name);
            }
            if let Some(nested) = &spec.fields {
                let message = match value_kind {
                    Kind::Message(m)
                        if m.package_name() == WELL_KNOWN_PACKAGE
                            && m.name() != "Empty"
                            && PRIMITIVE_WRAPPERS.contains(&m.name()) =>
                    {
                        self.error(
                            rules::WELL_KNOWN_TYPE,
                            at,
                            format!(
                                "`{}` is `{}`, which prost represents as a plain Rust value: map it with `from`, not `fields`",
                                field.name(),
                                m.full_name()
                            ),
                        );
                        return None;
                    }
                    kind => kind,
                };
                let Kind::Message(message) = message else {
                    self.error(
                        rules::NESTED_NOT_MESSAGE,
                        at,
                        if field.is_map() {
                            format!(
                                "the values of map field `{}` are not messages: `fields` maps message values (convert a map of scalars as a whole, with `from`)",
                                field.name()
                            )
                        } else {
                            format!(
                                "field `{}` is not a message: `fields` cannot map it",
                                field.name()
                            )
                        },
                    );
                    return None;
                };
                if spec.with.is_some() {
                    self.error(
                        rules::INVALID_FIELD_SOURCE,
                        at,
                        "`with` and `fields` cannot be used together",
                    );
                    return None;
                }
                let fields = self.fields(table, &message, nested, from_at);
                return Some(Value::Nested {
                    path,
                    message: self.message_type(table, &message),
                    fields,
                    map: field.is_map(),
                });
            }
            let with = match &spec.with {
                Some(w) => {
                    if !self.rust_path(w, "conversion function") {
                        return None;
                    }
                    Some(w.value.clone())
                }
                None => None,
            };
            let conversion = match (&spec.checked, &spec.enum_type, &spec.values) {
                (Some(checked), _, _) => {
                    if !checked.value {
                        Conversion::Into
                    } else if matches!(
                        field.kind(),
                        Kind::Message(_)
                            | Kind::String
                            | Kind::Bytes
                            | Kind::Bool
                            | Kind::Enum(_)
                            | Kind::Float
                            | Kind::Double
                    ) {
                        self.error(
                            rules::INVALID_FIELD_SOURCE,
                            checked.referenced,
                            format!(
                                "`checked` is for integers (no float narrowing is offered); `{}` is {}",
                                field.name(),
                                describe(field)
                            ),
                        );
                        return None;
                    } else {
                        Conversion::Checked
                    }
                }
                (None, Some(rust_type), Some(values)) => {
                    self.enum_conversion(field, rust_type, values)?
                }
                // A `with:` function into a field of a prost message type (not a well-known
                // type, which convert from std types) returns that message itself.
                _ => match (&with, identity_message(field)) {
                    (Some(_), Some(message)) => Conversion::Identity {
                        message: self.message_type(table, &message).rust_path,
                        map: field.is_map(),
                    },
                    _ => Conversion::Into,
                },
            };
            return Some(Value::Domain {
                path,
                with,
                conversion,
            });
        }
        if let Some(envelope) = &spec.envelope {
            return self.envelope(field, shape, envelope);
        }
        if let Some(constant) = &spec.constant {
            if shape == Shape::Repeated {
                self.error(
                    rules::INVALID_CONST,
                    constant.referenced,
                    format!("repeated field `{}` cannot take a constant", field.name()),
                );
                return None;
            }
            return match const_literal(field, &constant.value) {
                Ok(lit) => Some(Value::Const(lit)),
                Err(why) => {
                    let hint = match field.kind() {
                        Kind::Enum(_) => "write the value's proto name, e.g. `STATUS_READY`",
                        Kind::String | Kind::Bytes => "quote the text",
                        _ => "write a literal of the field's type, e.g. `42`, `-1.5`, `true`",
                    };
                    self.error(
                        rules::INVALID_CONST,
                        constant.referenced,
                        format!(
                            "`{}` is not a valid value for field `{}`: {why}",
                            constant.value,
                            field.name()
                        ),
                    )
                    .hint = Some(hint.into());
                    None
                }
            };
        }
        None
    }

    /// `enum:` + `values:`: every variant maps to a proto value that exists, by its proto name.
    fn enum_conversion(
        &mut self,
        field: &FieldDescriptor,
        rust_type: &Spanned<String>,
        values: &IndexMap<Key, Spanned<String>>,
    ) -> Option<Conversion> {
        let Kind::Enum(proto_enum) = field.kind() else {
            self.error(
                rules::ENUM_NOT_ENUM,
                rust_type.referenced,
                format!(
                    "`enum` maps onto proto enum fields; `{}` is {}",
                    field.name(),
                    describe(field)
                ),
            );
            return None;
        };
        if !self.rust_path(rust_type, "domain enum") {
            return None;
        }
        if values.is_empty() {
            self.error(
                rules::ENUM_VALUE,
                rust_type.referenced,
                "`values` maps no variant",
            )
            .hint =
                Some("map every variant of the domain enum: `Variant: PROTO_VALUE_NAME`".into());
            return None;
        }
        let mut arms = Vec::new();
        let mut ok = true;
        for (variant, value) in values {
            if !rust_names::is_identifier(variant.as_str()) {
                self.error(
                    rules::INVALID_NAME,
                    variant.location(),
                    format!("`{}` is not a Rust enum variant name", variant.as_str()),
                );
                ok = false;
                continue;
            }
            match proto_enum.get_value_by_name(&value.value) {
                Some(v) => {
                    arms.push((variant.as_str().to_owned(), v.name().to_owned(), v.number()))
                }
                None => {
                    let names: Vec<String> =
                        proto_enum.values().map(|v| v.name().to_owned()).collect();
                    let hint = suggest(&value.value, names.iter().map(String::as_str))
                        .map(|s| format!("did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            format!("values of `{}`: {}", proto_enum.full_name(), list(&names))
                        });
                    self.error(
                        rules::ENUM_VALUE,
                        value.referenced,
                        format!(
                            "proto enum `{}` has no value `{}` (values are matched by their proto names, not prost's Rust names)",
                            proto_enum.full_name(),
                            value.value
                        ),
                    )
                    .hint = Some(hint);
                    ok = false;
                }
            }
        }
        ok.then(|| Conversion::Enum {
            rust_type: rust_type.value.clone(),
            arms,
        })
    }

    fn domain_path(&mut self, from: &Spanned<String>) -> Option<Vec<String>> {
        let mut path = Vec::new();
        if from.value == "self" {
            // The whole domain value in scope (no field of a Rust struct can be named `self`).
            return Some(path);
        }
        if from.value.trim().is_empty() {
            self.error(
                rules::INVALID_DOMAIN_PATH,
                from.referenced,
                "`from` is empty",
            )
            .hint = Some(
                "name a field of the domain event, e.g. `customer_id` or `total.currency`".into(),
            );
            return None;
        }
        for segment in from.value.split('.') {
            match rust_names::domain_field(segment) {
                Some(ident) => path.push(ident),
                None => {
                    self.error(
                        rules::INVALID_DOMAIN_PATH,
                        from.referenced,
                        format!(
                            "`{}` is not a path of Rust field names (bad segment `{segment}`)",
                            from.value
                        ),
                    )
                    .hint =
                        Some("write field names separated by `.`, e.g. `total.currency`".into());
                    return None;
                }
            }
        }
        Some(path)
    }

    fn envelope(
        &mut self,
        field: &FieldDescriptor,
        shape: Shape,
        name: &Spanned<String>,
    ) -> Option<Value> {
        let Some(envelope) = Envelope::from_name(&name.value) else {
            let names: Vec<&str> = Envelope::ALL.iter().map(|(n, _)| *n).collect();
            let hint = suggest(&name.value, names.iter().copied())
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| format!("envelope values: {}", list(&names)));
            self.error(
                rules::UNKNOWN_ENVELOPE_VALUE,
                name.referenced,
                format!("`{}` is not an envelope value", name.value),
            )
            .hint = Some(hint);
            return None;
        };
        let kind = field.kind();
        let fits = shape != Shape::Repeated
            && match envelope {
                Envelope::EventId | Envelope::IntegrationEventId => {
                    matches!(kind, Kind::String | Kind::Bytes)
                }
                Envelope::EventName | Envelope::AggregateName | Envelope::AggregateId => {
                    kind == Kind::String
                }
                Envelope::AggregateVersion => matches!(
                    kind,
                    Kind::Uint64
                        | Kind::Int64
                        | Kind::Fixed64
                        | Kind::Sfixed64
                        | Kind::Sint64
                        | Kind::Uint32
                        | Kind::Int32
                        | Kind::Fixed32
                        | Kind::Sfixed32
                        | Kind::Sint32
                ),
                Envelope::OccurredAt => {
                    matches!(&kind, Kind::Message(m) if m.full_name() == "google.protobuf.Timestamp")
                }
            };
        if !fits {
            let expected = match envelope {
                Envelope::EventId | Envelope::IntegrationEventId => "a `string` or `bytes` field",
                Envelope::EventName | Envelope::AggregateName | Envelope::AggregateId => {
                    "a `string` field"
                }
                Envelope::AggregateVersion => {
                    "an integer field (`uint64`; `int64`, `int32`, ... range-checked)"
                }
                Envelope::OccurredAt => "a `google.protobuf.Timestamp` field",
            };
            let note = self.protos.field_location(field);
            let d = self.error(
                rules::ENVELOPE_TYPE,
                name.referenced,
                format!(
                    "envelope value `{}` needs {expected}; `{}` is {}",
                    name.value,
                    field.name(),
                    describe(field)
                ),
            );
            d.notes.push(("the field is declared here".into(), note));
            return None;
        }
        Some(Value::Envelope(envelope))
    }
}

/// The package of the protobuf well-known types, which prost maps to `::prost_types`.
const WELL_KNOWN_PACKAGE: &str = "google.protobuf";

/// Well-known types that prost represents as plain Rust values (`Option<String>` for
/// `StringValue`, `()` for `Empty`) rather than as structs.
const PRIMITIVE_WRAPPERS: &[&str] = &[
    "BoolValue",
    "BytesValue",
    "DoubleValue",
    "FloatValue",
    "Int32Value",
    "Int64Value",
    "StringValue",
    "UInt32Value",
    "UInt64Value",
    "Empty",
];

/// prost's Rust type of a well-known wrapper (`StringValue` is `String`, `Empty` is `()`): the
/// value of a field that prost represents as `Option<T>` rather than as a message.
fn wrapper_scalar(field: &FieldDescriptor) -> Option<&'static str> {
    let Kind::Message(m) = field.kind() else {
        return None;
    };
    if m.package_name() != WELL_KNOWN_PACKAGE || field.is_map() {
        return None;
    }
    Some(match m.name() {
        "BoolValue" => "bool",
        "BytesValue" => "::std::vec::Vec<u8>",
        "DoubleValue" => "f64",
        "FloatValue" => "f32",
        "Int32Value" => "i32",
        "Int64Value" => "i64",
        "StringValue" => "::std::string::String",
        "UInt32Value" => "u32",
        "UInt64Value" => "u64",
        "Empty" => "()",
        _ => return None,
    })
}

/// The prost message of a field (or of a map field's values) that is not a well-known type:
/// what a `with:` function into it returns as is.
fn identity_message(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    let kind = if field.is_map() {
        match field.kind() {
            Kind::Message(entry) => entry.map_entry_value_field().kind(),
            _ => return None,
        }
    } else {
        field.kind()
    };
    match kind {
        Kind::Message(m) if m.package_name() != WELL_KNOWN_PACKAGE => Some(m),
        _ => None,
    }
}

/// Whether prost boxes this field (`Option<Box<M>>`): a singular message field whose type
/// contains, through singular message fields, the message that declares it. Mirrors
/// prost-build's `MessageGraph::is_nested`, which only follows non-repeated message fields.
fn is_boxed(field: &FieldDescriptor) -> bool {
    let Kind::Message(start) = field.kind() else {
        return false;
    };
    if field.is_list() {
        return false;
    }
    let target = field.parent_message().clone();
    let mut seen = HashSet::new();
    let mut stack = vec![start];
    while let Some(message) = stack.pop() {
        if message == target {
            return true;
        }
        if !seen.insert(message.full_name().to_owned()) {
            continue;
        }
        for f in message.fields() {
            if let Kind::Message(m) = f.kind()
                && !f.is_list()
            {
                stack.push(m);
            }
        }
    }
    false
}

/// prost's Rust type of a scalar, string, bytes or enum field in its `shape` (prost-build's
/// defaults: `String`, `Vec<u8>`, enums as `i32`); `None` for messages and maps.
fn prost_type(field: &FieldDescriptor, shape: Shape) -> Option<String> {
    if field.is_map() {
        return None;
    }
    let scalar = match field.kind() {
        Kind::Message(_) => wrapper_scalar(field)?,
        Kind::Double => "f64",
        Kind::Float => "f32",
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 | Kind::Enum(_) => "i32",
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => "i64",
        Kind::Uint32 | Kind::Fixed32 => "u32",
        Kind::Uint64 | Kind::Fixed64 => "u64",
        Kind::Bool => "bool",
        Kind::String => "::std::string::String",
        Kind::Bytes => "::std::vec::Vec<u8>",
    };
    Some(match shape {
        Shape::Repeated => format!("::std::vec::Vec<{scalar}>"),
        Shape::Optional => format!("::core::option::Option<{scalar}>"),
        _ => scalar.to_owned(),
    })
}

/// The proto type of a field as a person would write it (`repeated string`, `OrderItem`).
fn describe(field: &FieldDescriptor) -> String {
    let kind = match field.kind() {
        Kind::Message(m) => m.full_name().to_owned(),
        Kind::Enum(e) => e.full_name().to_owned(),
        other => format!("{other:?}").to_lowercase(),
    };
    match field.cardinality() {
        Cardinality::Repeated => format!("`repeated {kind}`"),
        _ => format!("`{kind}`"),
    }
}

/// Parses a constant as written into a literal of the field's type.
fn const_literal(field: &FieldDescriptor, text: &str) -> Result<Literal, String> {
    fn int(text: &str, min: i128, max: i128, ty: &'static str) -> Result<Literal, String> {
        let value: i128 = text
            .trim()
            .parse()
            .map_err(|_| format!("expected an integer of type `{ty}`"))?;
        if value < min || value > max {
            return Err(format!("out of range for `{ty}`"));
        }
        Ok(Literal::Int { value, ty })
    }
    match field.kind() {
        Kind::String => Ok(Literal::String(text.to_owned())),
        Kind::Bytes => Ok(Literal::Bytes(text.to_owned())),
        Kind::Bool => match text {
            "true" => Ok(Literal::Bool(true)),
            "false" => Ok(Literal::Bool(false)),
            _ => Err("expected `true` or `false`".into()),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            int(text, i32::MIN.into(), i32::MAX.into(), "i32")
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => {
            int(text, i64::MIN.into(), i64::MAX.into(), "i64")
        }
        Kind::Uint32 | Kind::Fixed32 => int(text, 0, u32::MAX.into(), "u32"),
        Kind::Uint64 | Kind::Fixed64 => int(text, 0, u64::MAX.into(), "u64"),
        Kind::Float | Kind::Double => {
            let ty = if field.kind() == Kind::Float {
                "f32"
            } else {
                "f64"
            };
            let value: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("expected a number of type `{ty}`"))?;
            if !value.is_finite() {
                return Err("only finite numbers can be constants".into());
            }
            Ok(Literal::Float { value, ty })
        }
        Kind::Enum(e) => match e.get_value_by_name(text) {
            Some(v) => Ok(Literal::Enum {
                name: v.name().to_owned(),
                number: v.number(),
            }),
            None => {
                let names: Vec<String> = e.values().map(|v| v.name().to_owned()).collect();
                Err(format!(
                    "enum `{}` has the values {}",
                    e.full_name(),
                    list(&names)
                ))
            }
        },
        Kind::Message(m) => Err(format!(
            "message field (`{}`) cannot take a constant",
            m.full_name()
        )),
    }
}

/// Checks a NATS subject prefix (ADR-6 subject naming): non-empty tokens separated by `.`,
/// no whitespace, no wildcards `*` and `>`.
pub fn check_subject(subject: &str) -> Result<(), String> {
    if subject.is_empty() {
        return Err("it is empty".into());
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return Err("it has an empty token (leading, trailing or doubled `.`)".into());
        }
        if let Some(c) = token
            .chars()
            .find(|c| c.is_whitespace() || *c == '*' || *c == '>')
        {
            return Err(format!("token `{token}` contains {c:?}"));
        }
        if token.chars().any(|c| c.is_control()) {
            return Err(format!("token `{token}` contains a control character"));
        }
    }
    Ok(())
}

/// Checks a JetStream stream name: non-empty, no whitespace, `.`, `*`, `>`, path separators
/// (NATS server's stream name rules).
pub fn check_stream(stream: &str) -> Result<(), String> {
    if stream.is_empty() {
        return Err("it is empty".into());
    }
    match stream
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        Some(c) => Err(format!("it contains {c:?}")),
        None => Ok(()),
    }
}

/// The closest candidate to `name`, when one is close enough to be a likely typo.
///
/// The edit distance costs the product of the two lengths, so names longer than
/// [`SUGGEST_MAX_CHARS`] get no suggestion (two 100,000-character names took minutes), and a
/// candidate is only compared when the difference in length alone does not already rule it out.
fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let name_len = name.chars().count();
    if name_len > SUGGEST_MAX_CHARS {
        return None;
    }
    candidates
        .filter_map(|c| {
            let len = c.chars().count();
            let max = (len / 3).max(2);
            (len <= SUGGEST_MAX_CHARS && len.abs_diff(name_len) <= max)
                .then(|| (strsim::damerau_levenshtein(name, c), max, c))
        })
        .filter(|(d, max, _)| *d <= *max && *d > 0)
        .min_by_key(|(d, ..)| *d)
        .map(|(.., c)| c)
}

/// Longest name (in characters) for which [`suggest`] looks for a likely typo.
const SUGGEST_MAX_CHARS: usize = 256;

fn list<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return "(none)".into();
    }
    items
        .iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The folder of a table file, for resolving relative paths in it.
pub fn table_dir(file: &Path) -> PathBuf {
    match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::new(),
    }
}
