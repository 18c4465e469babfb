//! Rust names of proto elements, as prost-build spells them, and checks of Rust names.
//!
//! The conversions follow prost-build 0.14 `ident.rs` (`to_snake`, `to_upper_camel`,
//! `sanitize_identifier`) so that generated code names the prost types exactly; enum values
//! are never named through prost's Rust names (they are matched by proto name and number).

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

/// Keywords that prost-build writes as raw identifiers (`r#type`).
const RAW_KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "else", "enum", "false", "fn", "for", "if", "impl", "in",
    "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct",
    "trait", "true", "type", "unsafe", "use", "where", "while", "dyn", "abstract", "become", "box",
    "do", "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "async",
    "await", "try", "gen",
];

/// Keywords that cannot be raw identifiers; prost-build appends `_`.
const SUFFIXED_KEYWORDS: &[&str] = &["_", "super", "self", "Self", "extern", "crate"];

/// prost-build's `sanitize_identifier`: raw identifier for keywords, `_` suffix for those
/// that cannot be raw, `_` prefix for a leading digit.
pub fn sanitize_identifier(ident: &str) -> String {
    if RAW_KEYWORDS.contains(&ident) {
        format!("r#{ident}")
    } else if SUFFIXED_KEYWORDS.contains(&ident) {
        format!("{ident}_")
    } else if ident.starts_with(|c: char| c.is_numeric()) {
        format!("_{ident}")
    } else {
        ident.to_owned()
    }
}

/// The Rust field name prost-build gives a proto field (`customer_id`, `r#type`, `self_`).
pub fn field_ident(proto_name: &str) -> String {
    sanitize_identifier(&proto_name.to_snake_case())
}

/// The Rust module name prost-build gives a package segment or an outer message.
pub fn module_ident(proto_name: &str) -> String {
    sanitize_identifier(&proto_name.to_snake_case())
}

/// The Rust type name prost-build gives a message or enum (`OrderCreated`).
pub fn type_ident(proto_name: &str) -> String {
    sanitize_identifier(&proto_name.to_upper_camel_case())
}

/// The Rust path of a message under `proto_module`, as prost-build lays out packages
/// (one module per package segment) and nested messages (a module per outer message).
///
/// `package` is the proto package (`ordering.v1`), `full_name` the message's full name
/// (`ordering.v1.Outer.Inner`).
pub fn message_path(proto_module: &str, package: &str, full_name: &str) -> String {
    let mut path = proto_module.to_owned();
    if !package.is_empty() {
        for segment in package.split('.') {
            path.push_str("::");
            path.push_str(&module_ident(segment));
        }
    }
    let local = if package.is_empty() {
        full_name
    } else {
        full_name
            .strip_prefix(package)
            .and_then(|s| s.strip_prefix('.'))
            .unwrap_or(full_name)
    };
    let mut parts: Vec<&str> = local.split('.').collect();
    let last = parts.pop().unwrap_or(local);
    for outer in parts {
        path.push_str("::");
        path.push_str(&module_ident(outer));
    }
    path.push_str("::");
    path.push_str(&type_ident(last));
    path
}

/// prost-build's Rust variant name of an enum value: the value in `UpperCamelCase`, without
/// the enum's name (`enum_type` already in `UpperCamelCase`) when it is a true prefix
/// (prost-build's `strip_enum_prefix`). Used only to detect collisions: generated code never
/// names enum values through it.
pub fn enum_variant(enum_type: &str, value: &str) -> String {
    let name = value.to_upper_camel_case();
    let stripped = name.strip_prefix(enum_type).unwrap_or(&name);
    let stripped = if stripped.chars().next().is_some_and(char::is_uppercase) {
        stripped
    } else {
        &name
    };
    sanitize_identifier(stripped)
}

/// `SCREAMING_SNAKE_CASE` name for a generated constant.
pub fn const_ident(name: &str) -> String {
    sanitize_identifier(&name.to_shouty_snake_case())
}

/// The name of the constant holding the CloudEvents type of the integration event `name`, when
/// the table gives it one of its own: `<NAME>_CE_TYPE` (`ORDER_CREATED_EVENT_CE_TYPE`).
pub fn ce_type_const(name: &str) -> String {
    format!("{}_CE_TYPE", const_ident(name))
}

/// `snake_case` name for a generated function.
pub fn fn_ident(name: &str) -> String {
    sanitize_identifier(&name.to_snake_case())
}

/// `UpperCamelCase` name for a generated type.
pub fn upper_camel(name: &str) -> String {
    sanitize_identifier(&name.to_upper_camel_case())
}

/// The `UpperCamelCase` start of a generated type's name that a suffix completes
/// (`OrdersHandler`, `SelfIntegrationEvent`): never a keyword once completed, so not
/// sanitized (`upper_camel("self")` is `Self_`, which made `Self_Event`, a name rustc warns
/// about).
pub fn type_prefix(name: &str) -> String {
    name.to_upper_camel_case()
}

/// Whether `name` is a plain Rust identifier (ASCII letters, digits, `_`; not starting with
/// a digit; not a lone `_`). Keywords count as identifiers here: they are written raw.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    name != "_" && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The Rust field access for a domain field name: keywords are written raw (`r#type`); a
/// field named `self`, `super`, `crate` or `Self` cannot exist in Rust and returns `None`.
pub fn domain_field(name: &str) -> Option<String> {
    if SUFFIXED_KEYWORDS.contains(&name) || !is_identifier(name) {
        if name.chars().all(|c| c.is_ascii_digit()) && !name.is_empty() {
            // Tuple struct field: `0`, `1`, ...
            return Some(name.to_owned());
        }
        return None;
    }
    Some(if RAW_KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    })
}

/// `name` as one segment of a Rust path (a type's name after its module): a keyword raw
/// (`r#type`); `None` for a name no path segment can be (`Self`, `self`, `super`, `crate`,
/// `_`, or not an identifier at all, such as `order.created`).
pub fn path_segment(name: &str) -> Option<String> {
    if SUFFIXED_KEYWORDS.contains(&name) || !is_identifier(name) {
        return None;
    }
    Some(if RAW_KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    })
}

/// Whether `path` is a Rust path of identifiers separated by `::`, optionally starting with
/// `crate`, `self`, `super` or `::` (e.g. `crate::domain::events`).
pub fn is_rust_path(path: &str) -> bool {
    let body = path.strip_prefix("::").unwrap_or(path);
    !body.is_empty()
        && body.split("::").enumerate().all(|(i, segment)| {
            let segment = segment.strip_prefix("r#").unwrap_or(segment);
            (is_identifier(segment) && !SUFFIXED_KEYWORDS.contains(&segment))
                || (matches!(segment, "crate" | "self" | "super") && (i == 0 || segment == "super"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_follow_prost() {
        assert_eq!(field_ident("customer_id"), "customer_id");
        assert_eq!(field_ident("customerId"), "customer_id");
        assert_eq!(field_ident("type"), "r#type");
        assert_eq!(field_ident("async"), "r#async");
        assert_eq!(field_ident("self"), "self_");
        assert_eq!(field_ident("FOO_BAR"), "foo_bar");
    }

    #[test]
    fn message_paths_follow_prost_layout() {
        assert_eq!(
            message_path("crate::proto", "ordering.v1", "ordering.v1.OrderCreated"),
            "crate::proto::ordering::v1::OrderCreated"
        );
        assert_eq!(
            message_path("crate::proto", "ordering.v1", "ordering.v1.Order.LineItem"),
            "crate::proto::ordering::v1::order::LineItem"
        );
        assert_eq!(message_path("crate::pb", "", "Thing"), "crate::pb::Thing");
        assert_eq!(
            message_path("crate::pb", "my_pkg.type", "my_pkg.type.HTTPRequest"),
            "crate::pb::my_pkg::r#type::HttpRequest"
        );
    }

    #[test]
    fn rust_paths_and_identifiers() {
        assert!(is_rust_path("crate::domain::events"));
        assert!(is_rust_path("::my_crate::money::to_cents"));
        assert!(is_rust_path("super::super::x"));
        assert!(!is_rust_path("crate::"));
        assert!(!is_rust_path("crate::a b"));
        assert!(!is_rust_path("a::crate"));
        assert!(is_identifier("OrderCreated"));
        assert!(!is_identifier("Order Created"));
        assert!(!is_identifier("1abc"));
        assert_eq!(domain_field("type").as_deref(), Some("r#type"));
        assert_eq!(domain_field("self"), None);
        assert_eq!(domain_field("0").as_deref(), Some("0"));
    }
}
