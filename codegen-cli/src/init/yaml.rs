//! The text of the starter table: channels named after packages (or files), rows grouped by
//! domain event, fields with their guessed sources and comments.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use indexmap::IndexMap;

use super::guess::{self, EventNames, Source};
use super::{ChannelPer, Layout, Plan, Starter};

/// Where the schema of the table is published, for the `yaml-language-server` line.
const SCHEMA_URL: &str = concat!(
    env!("CARGO_PKG_REPOSITORY"),
    "/raw/main/schema/mappings.schema.json"
);

/// One channel of the starter table.
#[derive(Debug)]
struct ChannelSpec {
    name: String,
    subject: String,
    stream: String,
    /// The package or file it was made for.
    origin: String,
}

/// One row: the integration event a message becomes.
#[derive(Debug)]
struct Row {
    name: String,
    message: String,
    channel: String,
    fields: Vec<(String, Source)>,
}

/// Renders the starter table of `plan`.
pub(super) fn render(layout: &Layout, plan: &Plan) -> Starter {
    let channels = channels(layout, plan);
    let mut events: IndexMap<String, Vec<Row>> = IndexMap::new();
    let mut used_names: Vec<String> = Vec::new();
    for (file, package, message) in &plan.events {
        let domain = message
            .name()
            .strip_suffix("Event")
            .filter(|d| !d.is_empty())
            .unwrap_or(message.name())
            .to_owned();
        let base = format!("{domain}Event");
        let name = if used_names.contains(&base) {
            let version = package
                .rsplit('.')
                .find(|s| is_version(s))
                .map(upper_first)
                .unwrap_or_default();
            let mut candidate = format!("{base}{version}");
            let mut n = 2;
            while used_names.contains(&candidate) {
                candidate = format!("{base}{version}{n}");
                n += 1;
            }
            candidate
        } else {
            base
        };
        used_names.push(name.clone());
        let key = channel_key(layout.channel_per, file, package);
        let channel = channels
            .get(&key)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let names = EventNames::of(message.name());
        let fields = guess::fields(message, Some(&names), &mut Vec::new());
        events.entry(domain).or_default().push(Row {
            name,
            message: message.full_name().to_owned(),
            channel,
            fields,
        });
    }

    let service = layout.service.clone().unwrap_or_else(|| {
        plan.events
            .first()
            .and_then(|(_, package, _)| package.split('.').next())
            .filter(|s| !s.is_empty())
            .unwrap_or("service")
            .to_owned()
    });
    let files: Vec<&String> = layout
        .files
        .iter()
        .filter(|f| plan.events.iter().any(|(file, _, _)| file == *f))
        .collect();

    let mut out = String::new();
    let _ = writeln!(out, "# yaml-language-server: $schema={SCHEMA_URL}");
    let _ = writeln!(
        out,
        "# Starter mapping table written by `eventmap init`: the `from:` paths are guesses by name,"
    );
    let _ = writeln!(
        out,
        "# the comments mark the weak ones. Review it, then run `eventmap check`. Reference: docs/mappings.md"
    );
    let _ = writeln!(out, "version: 1");
    let _ = writeln!(
        out,
        "service: {}   # the producing service: the CloudEvents `ce-source`",
        scalar(&service)
    );
    let _ = writeln!(out, "protos:");
    let _ = writeln!(out, "  include: [{}]", scalar(&layout.include));
    let _ = writeln!(
        out,
        "  files: [{}]",
        files
            .iter()
            .map(|f| scalar(f))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(out, "rust:");
    let _ = writeln!(
        out,
        "  domain_module: crate::domain::events   # where the domain event types are (a guess)"
    );
    let _ = writeln!(
        out,
        "  proto_module: crate::proto             # where prost's packages are"
    );
    let _ = writeln!(
        out,
        "  # output: src/generated/integration_events.rs   # what `eventmap generate` writes"
    );
    let _ = writeln!(out, "channels:");
    for channel in channels.values() {
        let _ = writeln!(
            out,
            "  {}: {{ subject: {}, stream: {} }}   # {}",
            channel.name,
            scalar(&channel.subject),
            channel.stream,
            channel.origin
        );
    }
    let _ = writeln!(out, "events:");
    if !plan.left_out.is_empty() {
        let _ = writeln!(
            out,
            "  # Messages left out (add a row by hand for any that is an event):"
        );
        for (name, why) in &plan.left_out {
            let _ = writeln!(out, "  #   {name}: {why}");
        }
    }
    for (domain, rows) in &events {
        let _ = writeln!(out, "  {domain}:");
        for row in rows {
            let _ = writeln!(out, "    - name: {}", row.name);
            let _ = writeln!(out, "      message: {}", row.message);
            let _ = writeln!(out, "      channel: {}", row.channel);
            write_fields(&mut out, &row.fields, 6);
        }
    }
    Starter {
        text: out,
        events: events.values().map(Vec::len).sum(),
        channels: channels.len(),
        left_out: plan.left_out.clone(),
    }
}

/// `fields:` and its entries, at `indent` spaces.
fn write_fields(out: &mut String, fields: &[(String, Source)], indent: usize) {
    let pad = " ".repeat(indent);
    if fields.is_empty() {
        let _ = writeln!(out, "{pad}fields: {{}}");
        return;
    }
    let _ = writeln!(out, "{pad}fields:");
    let pad = " ".repeat(indent + 2);
    for (name, source) in fields {
        let key = scalar(name);
        match source {
            Source::Envelope(value) => {
                let _ = writeln!(out, "{pad}{key}: {{ envelope: {value} }}");
            }
            Source::From { path, note } => {
                let _ = write!(out, "{pad}{key}: {{ from: {} }}", scalar(path));
                let _ = writeln!(out, "{}", comment(note.as_deref()));
            }
            Source::Default { note } => {
                let _ = writeln!(out, "{pad}{key}: default{}", comment(Some(note)));
            }
            Source::Nested { path, fields } => {
                let _ = writeln!(out, "{pad}{key}:");
                let _ = writeln!(out, "{pad}  from: {}", scalar(path));
                write_fields(out, fields, indent + 4);
            }
        }
    }
}

/// `   # note`, or nothing.
fn comment(note: Option<&str>) -> String {
    note.map(|n| format!("   # {n}")).unwrap_or_default()
}

/// The channels, keyed by package (versions stripped) or file.
fn channels(layout: &Layout, plan: &Plan) -> BTreeMap<String, ChannelSpec> {
    let mut keys: Vec<(String, String, String)> = Vec::new();
    for (file, package, _) in &plan.events {
        let key = channel_key(layout.channel_per, file, package);
        if !keys.iter().any(|(k, _, _)| *k == key) {
            keys.push((key, file.clone(), package.clone()));
        }
    }
    // Short names where they are unique, the whole key otherwise.
    let short = |key: &str, file: &str, package: &str| {
        match layout.channel_per {
            ChannelPer::Package => unversioned(package).last().map(|s| (*s).to_owned()),
            ChannelPer::File => file
                .rsplit('/')
                .next()
                .map(|f| f.trim_end_matches(".proto").to_owned()),
        }
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| key.to_owned())
    };
    let mut out = BTreeMap::new();
    let mut taken: Vec<String> = Vec::new();
    for (key, file, package) in &keys {
        let mut name = identifier(&short(key, file, package));
        if taken.contains(&name) || name == "all" {
            name = identifier(key);
        }
        while taken.contains(&name) || name == "all" {
            name.push('_');
        }
        taken.push(name.clone());
        let package_subject = unversioned(package).join(".");
        let subject = match layout.channel_per {
            ChannelPer::Package if package_subject.is_empty() => "events".to_owned(),
            ChannelPer::Package => package_subject,
            ChannelPer::File if package_subject.is_empty() => name.clone(),
            ChannelPer::File => format!("{package_subject}.{name}"),
        };
        let stream = subject
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        let packages: Vec<&str> = plan
            .events
            .iter()
            .filter(|(f, p, _)| channel_key(layout.channel_per, f, p) == *key)
            .map(|(_, p, _)| p.as_str())
            .fold(Vec::new(), |mut all, p| {
                if !all.contains(&p) {
                    all.push(p);
                }
                all
            });
        let origin = match layout.channel_per {
            ChannelPer::Package if package.is_empty() => "the protos without a package".to_owned(),
            ChannelPer::Package => format!(
                "package{} {}",
                if packages.len() == 1 { "" } else { "s" },
                packages.join(", ")
            ),
            ChannelPer::File => format!("file {file}"),
        };
        out.insert(
            key.clone(),
            ChannelSpec {
                name,
                subject,
                stream,
                origin,
            },
        );
    }
    out
}

/// The key of the channel of a row.
fn channel_key(per: ChannelPer, file: &str, package: &str) -> String {
    match per {
        ChannelPer::Package => unversioned(package).join("."),
        ChannelPer::File => file.to_owned(),
    }
}

/// The segments of a package without its version segments (`ordering.v1` -> `ordering`).
fn unversioned(package: &str) -> Vec<&str> {
    package
        .split('.')
        .filter(|s| !s.is_empty() && !is_version(s))
        .collect()
}

/// `v1`, `v2beta1`, `v1alpha`.
fn is_version(segment: &str) -> bool {
    let Some(rest) = segment.strip_prefix('v') else {
        return false;
    };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    digits > 0
        && rest[digits..]
            .trim_start_matches("alpha")
            .trim_start_matches("beta")
            .chars()
            .all(|c| c.is_ascii_digit())
}

/// `v2` -> `V2`.
fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A channel name: letters, digits and `_`, not starting with a digit.
fn identifier(text: &str) -> String {
    let mut name: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// A YAML scalar that reads back as the same string: quoted when YAML would read it as
/// something else (`null`, `true`, a number) or when it holds YAML syntax.
fn scalar(text: &str) -> String {
    let special = matches!(
        text.to_ascii_lowercase().as_str(),
        "null" | "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "~" | ""
    );
    let numeric = text.parse::<f64>().is_ok() || text.starts_with(|c: char| c.is_ascii_digit());
    let syntax = text.chars().any(|c| {
        matches!(
            c,
            ':' | '#'
                | '{'
                | '}'
                | '['
                | ']'
                | ','
                | '&'
                | '*'
                | '!'
                | '|'
                | '>'
                | '\''
                | '"'
                | '%'
                | '@'
                | '`'
        ) || c.is_whitespace()
    });
    if special || numeric || syntax {
        format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_read_back_as_strings() {
        assert_eq!(scalar("order_id"), "order_id");
        assert_eq!(scalar("null"), "\"null\"");
        assert_eq!(scalar("No"), "\"No\"");
        assert_eq!(scalar("0"), "\"0\"");
        assert_eq!(scalar("../proto dir"), "\"../proto dir\"");
    }

    #[test]
    fn versions_and_names() {
        assert!(is_version("v1") && is_version("v2beta1") && is_version("v1alpha"));
        assert!(!is_version("video") && !is_version("v"));
        assert_eq!(unversioned("acme.ordering.v1"), ["acme", "ordering"]);
        assert_eq!(identifier("shop-orders"), "shop_orders");
        assert_eq!(identifier("2fa"), "_2fa");
    }
}
