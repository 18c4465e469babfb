//! A proto2 message whose field's type is an enum of a proto3 file: proto3 enums are open
//! (an unknown number is kept), proto2 fields expect closed ones, and protoc refuses the
//! combination; prost-build would accept it, so this check reports the field before any
//! code is generated (rule `proto2-open-enum`).

use prost_reflect::{Kind, Syntax};

use crate::diagnostic::Diagnostic;
use crate::protos::ProtoSet;
use crate::rules;

/// Every field of a proto2 message (the well-known types excepted) whose enum type is
/// declared in a proto3 file, located at the field, with a note at the enum.
pub fn check(protos: &ProtoSet) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    for message in protos
        .pool()
        .all_messages()
        .filter(|m| m.package_name() != "google.protobuf")
        .filter(|m| m.parent_file().syntax() == Syntax::Proto2)
    {
        for field in message.fields() {
            let Kind::Enum(enumeration) = field.kind() else {
                continue;
            };
            if enumeration.parent_file().syntax() != Syntax::Proto3 {
                continue;
            }
            found.push(
                Diagnostic::new(
                    rules::PROTO2_OPEN_ENUM,
                    format!(
                        "field `{}` of proto2 message `{}` has the type `{}`, an open enum of a proto3 file (`{}`): protoc refuses a proto3 enum in a proto2 message",
                        field.name(),
                        message.full_name(),
                        enumeration.full_name(),
                        enumeration.parent_file().name()
                    ),
                )
                .at(protos.field_location(&field))
                .note(
                    format!("enum `{}` is defined here", enumeration.full_name()),
                    protos.enum_location(&enumeration),
                )
                .hint("declare the enum in a proto2 file, or make the message's file proto3"),
            );
        }
    }
    found
}
