//! Proto names that collide once prost-build turns them into Rust names: two types of one
//! package (`foo_bar` / `FooBar`), two fields of one message (`foo_bar` / `FOO_BAR`), a
//! nested-types module and a sub-package (message `Outer` with nested types and package
//! `pkg.outer` both give module `outer`), two values of one enum after prost strips the enum
//! name prefix. prost-build would generate code that does not compile; this check reports
//! both proto locations before any code is generated (rule `proto-name-collision`).

use std::collections::{HashMap, HashSet};

use prost_reflect::{EnumDescriptor, MessageDescriptor, OneofDescriptor};

use crate::diagnostic::{Diagnostic, SourceLocation};
use crate::protos::ProtoSet;
use crate::rules;
use crate::rust_names;

/// One Rust name claimed by a proto element.
struct Claim {
    what: String,
    location: Option<SourceLocation>,
}

/// Collects claims per (Rust scope, Rust name) and reports the second claim of a name.
#[derive(Default)]
struct Scopes {
    taken: HashMap<(String, String), Claim>,
    diagnostics: Vec<Diagnostic>,
}

impl Scopes {
    fn claim(&mut self, scope: &str, rust: String, what: String, location: Option<SourceLocation>) {
        let key = (scope.to_owned(), rust.clone());
        match self.taken.get(&key) {
            Some(first) if first.what == what => {}
            Some(first) => {
                let diagnostic = Diagnostic::new(
                    rules::PROTO_NAME_COLLISION,
                    format!("{what} and {} both become the Rust name `{rust}` in `{scope}`", first.what),
                )
                .at(location)
                .note(format!("{} is here", first.what), first.location.clone())
                .hint("rename one of them in the .proto (prost-build would generate code that does not compile)");
                self.diagnostics.push(diagnostic);
            }
            None => {
                self.taken.insert(key, Claim { what, location });
            }
        }
    }
}

/// Every name collision among the protos of `protos` (the well-known types excepted).
pub fn check(protos: &ProtoSet) -> Vec<Diagnostic> {
    let mut scopes = Scopes::default();
    let pool = protos.pool();
    let packages: Vec<String> = {
        let mut p: Vec<String> = pool.files().map(|f| f.package_name().to_owned()).collect();
        p.sort();
        p.dedup();
        p
    };
    for file in pool
        .files()
        .filter(|f| f.package_name() != "google.protobuf")
    {
        let package = file.package_name().to_owned();
        for message in file.messages() {
            message_names(protos, &mut scopes, &package, &message);
        }
        for enumeration in file.enums() {
            let location = protos.element_location(&file, enumeration.path(), enumeration.name());
            scopes.claim(
                &package,
                rust_names::type_ident(enumeration.name()),
                format!("enum `{}`", enumeration.full_name()),
                location,
            );
            enum_values(protos, &mut scopes, &enumeration);
        }
    }
    // Sub-packages give modules of their parent package's module.
    for package in &packages {
        if let Some((parent, last)) = package.rsplit_once('.') {
            // The `package` statement (field 2 of FileDescriptorProto) of its first file.
            let location = pool
                .files()
                .find(|f| f.package_name() == package)
                .and_then(|f| protos.element_location(&f, &[2], package));
            scopes.claim(
                &format!("{parent}::<modules>"),
                rust_names::module_ident(last),
                format!("package `{package}`"),
                location,
            );
        }
    }
    scopes.diagnostics
}

fn message_names(protos: &ProtoSet, scopes: &mut Scopes, scope: &str, message: &MessageDescriptor) {
    let file = message.parent_file();
    let location = protos.message_location(message);
    scopes.claim(
        scope,
        rust_names::type_ident(message.name()),
        format!("message `{}`", message.full_name()),
        location.clone(),
    );
    let has_module = message.child_messages().any(|m| !m.is_map_entry())
        || message.child_enums().next().is_some()
        || message.oneofs().any(|o| !o.is_synthetic());
    if has_module {
        scopes.claim(
            &format!("{scope}::<modules>"),
            rust_names::module_ident(message.name()),
            format!("the nested types of message `{}`", message.full_name()),
            location,
        );
    }
    let fields_scope = format!("fields of {}", message.full_name());
    field_names(protos, scopes, &fields_scope, message);
    let inner_scope = format!("{scope}::{}", rust_names::module_ident(message.name()));
    for oneof in message.oneofs().filter(|o| !o.is_synthetic()) {
        oneof_names(protos, scopes, &fields_scope, &inner_scope, &oneof);
    }
    for child in message.child_messages().filter(|m| !m.is_map_entry()) {
        message_names(protos, scopes, &inner_scope, &child);
    }
    for enumeration in message.child_enums() {
        scopes.claim(
            &inner_scope,
            rust_names::type_ident(enumeration.name()),
            format!("enum `{}`", enumeration.full_name()),
            protos.element_location(&file, enumeration.path(), enumeration.name()),
        );
        enum_values(protos, scopes, &enumeration);
    }
}

/// The fields of `message` outside a oneof, in its struct (`fields_scope`).
fn field_names(
    protos: &ProtoSet,
    scopes: &mut Scopes,
    fields_scope: &str,
    message: &MessageDescriptor,
) {
    for field in message.fields() {
        if field.containing_oneof().is_some_and(|o| !o.is_synthetic()) {
            continue;
        }
        scopes.claim(
            fields_scope,
            rust_names::field_ident(field.name()),
            format!("field `{}`", field.full_name()),
            protos.field_location(&field),
        );
    }
}

/// A oneof: its field in the message's struct (`fields_scope`), its enum in the message's
/// module (`inner_scope`), and the variants of that enum.
fn oneof_names(
    protos: &ProtoSet,
    scopes: &mut Scopes,
    fields_scope: &str,
    inner_scope: &str,
    oneof: &OneofDescriptor,
) {
    let file = oneof.parent_message().parent_file();
    let oneof_location = protos.element_location(&file, oneof.path(), oneof.name());
    scopes.claim(
        fields_scope,
        rust_names::field_ident(oneof.name()),
        format!("oneof `{}`", oneof.full_name()),
        oneof_location.clone(),
    );
    scopes.claim(
        inner_scope,
        rust_names::type_ident(oneof.name()),
        format!("oneof `{}`", oneof.full_name()),
        oneof_location,
    );
    let variants_scope = format!("variants of oneof {}", oneof.full_name());
    for member in oneof.fields() {
        scopes.claim(
            &variants_scope,
            rust_names::type_ident(member.name()),
            format!("field `{}`", member.full_name()),
            protos.field_location(&member),
        );
    }
}

/// prost names enum variants by stripping the enum's name from the value (`STATUS_READY` of
/// `Status` is `Ready`); two values may end up with one variant name.
///
/// Only the values that become variants claim a name. Protobuf's `option allow_alias = true;`
/// lets several names share one number (`STATUS_DONE = 2; DONE = 2;`); prost-build keeps
/// the first one declared for each number and skips the aliases, so an alias stripped to the
/// name of another value (`DONE` and `STATUS_DONE` both `Done`) is no collision. The values
/// are taken in declaration order: prost-reflect's `values()` is sorted by number, with an
/// alias before the value it aliases.
fn enum_values(protos: &ProtoSet, scopes: &mut Scopes, enumeration: &EnumDescriptor) {
    let file = enumeration.parent_file();
    let prefix = rust_names::type_ident(enumeration.name());
    let scope = format!("variants of enum {}", enumeration.full_name());
    let mut declared: Vec<_> = enumeration.values().collect();
    declared.sort_by_key(|value| value.path().last().copied());
    let mut numbers = HashSet::new();
    for value in declared {
        if !numbers.insert(value.number()) {
            continue;
        }
        let variant = rust_names::enum_variant(&prefix, value.name());
        scopes.claim(
            &scope,
            variant,
            format!("enum value `{}`", value.name()),
            protos.element_location(&file, value.path(), value.name()),
        );
    }
}
