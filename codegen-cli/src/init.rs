//! `eventmap init`: a starter mapping table for contracts a team already has.
//!
//! From a folder of `.proto` files it writes a table with a channel per proto package (or per
//! file), a row per message that looks like an event (a top-level message whose name is in the
//! past tense, `OrderCreated`, or ends in `Event`, and that is neither a field type of another
//! message nor an rpc's request or response), every proto field of it listed, with:
//! - `envelope:` for the fields that look like envelope values: `id` (the integration event
//!   id), `event_id`, `<aggregate>_id` (`order_id` in `OrderCreated`), `<aggregate>_version`,
//!   a `google.protobuf.Timestamp` named `occurred_at` or after the event (`created_at` in
//!   `OrderCreated`), `event_name`, `aggregate_name`;
//! - `from: <the field's name>` for the others, nested `fields:` for message fields (per
//!   element of a repeated field, per value of a map);
//! - a comment wherever the guess is weak (an enum, another timestamp, a oneof, a recursive
//!   message, `Any`/`Struct`), and `default` only with such a comment.
//!
//! The messages left out are listed in a comment with the reason. The table is checked
//! against the protos ([`crate::analyze_str`]) before it is written, and an existing file is
//! never overwritten.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use prost_reflect::{DescriptorPool, FieldDescriptor, Kind, MessageDescriptor};

use crate::diagnostic::Sources;
use crate::protos::ProtoSet;

mod guess;
mod yaml;

pub use guess::looks_like_event;

/// What `eventmap init` starts from.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The folder of the `.proto` files (the include directory), as given on the command line
    /// (relative to the current directory, or absolute).
    pub protos: PathBuf,
    /// The files to read, relative to [`Self::protos`]; empty: every `.proto` under it.
    pub files: Vec<String>,
    /// The service's name (`service:`, the CloudEvents `ce-source`); default: the first
    /// segment of the first proto package.
    pub service: Option<String>,
    /// One channel per proto package or per file.
    pub channel_per: ChannelPer,
    /// Where the table is written (its folder anchors the table's relative paths).
    pub table: PathBuf,
}

/// How `eventmap init` groups the integration events into channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ChannelPer {
    /// One channel per proto package (versions `v1`, `v2` of a package share it).
    #[default]
    Package,
    /// One channel per `.proto` file.
    File,
}

/// A starter table: its text and what it holds.
#[derive(Debug, Clone)]
pub struct Starter {
    /// The YAML text.
    pub text: String,
    /// Rows written (integration events).
    pub events: usize,
    /// Channels written.
    pub channels: usize,
    /// The messages left out, by full name, with the reason.
    pub left_out: Vec<(String, String)>,
}

/// Why `eventmap init` wrote nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InitError {
    /// The table exists already; init never overwrites one.
    #[error(
        "`{0}` exists already; eventmap init writes a new table and never overwrites one (give another --mappings)"
    )]
    Exists(PathBuf),
    /// The protos folder cannot be read, or holds no `.proto` file.
    #[error("no `.proto` file under `{0}`")]
    NoProtos(PathBuf),
    /// A file or folder cannot be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// `read`, `write` or `create`.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The protos do not compile; `rendered` is the diagnostic with its snippet.
    #[error("{rendered}")]
    Proto {
        /// The diagnostic rendered as text.
        rendered: String,
    },
    /// No message of the files looks like an event.
    #[error("no message under `{dir}` looks like an event (left out: {left_out})")]
    NoEvents {
        /// The protos folder.
        dir: PathBuf,
        /// The messages left out and why, `; `-separated.
        left_out: String,
    },
    /// The starter table does not pass `eventmap check` (a bug in init): `rendered` holds the
    /// diagnostics.
    #[error("the starter table does not pass `eventmap check`:\n{rendered}")]
    Invalid {
        /// The diagnostics rendered as text.
        rendered: String,
    },
}

/// Builds the starter table of `options` and checks it against the protos; writes nothing.
///
/// # Errors
/// [`InitError::NoProtos`], [`InitError::Proto`] when the protos do not compile,
/// [`InitError::NoEvents`], and [`InitError::Invalid`] when the table would not pass
/// `eventmap check`.
pub fn starter_table(options: &InitOptions) -> Result<Starter, InitError> {
    let files = if options.files.is_empty() {
        proto_files(&options.protos)?
    } else {
        options.files.clone()
    };
    if files.is_empty() {
        return Err(InitError::NoProtos(options.protos.clone()));
    }
    let include = options.protos.to_string_lossy().into_owned();
    let mut sources = Sources::default();
    let protos = ProtoSet::compile(
        Path::new(""),
        Path::new(""),
        std::slice::from_ref(&include),
        &files,
        &mut sources,
    )
    .map_err(|diagnostic| InitError::Proto {
        rendered: crate::report::render_text(&[*diagnostic], &sources),
    })?;
    let table_dir = options.table.parent().unwrap_or(Path::new(""));
    let layout = Layout {
        include: relative_to(table_dir, &options.protos),
        files: files.clone(),
        service: options.service.clone(),
        channel_per: options.channel_per,
    };
    let starter = yaml::render(&layout, &plan(protos.pool(), &files));
    if starter.events == 0 {
        return Err(InitError::NoEvents {
            dir: options.protos.clone(),
            left_out: starter
                .left_out
                .iter()
                .map(|(name, why)| format!("{name}: {why}"))
                .collect::<Vec<_>>()
                .join("; "),
        });
    }
    let analysis = crate::analyze_str(&options.table, &starter.text);
    if analysis.has_errors() {
        return Err(InitError::Invalid {
            rendered: analysis.render(),
        });
    }
    Ok(starter)
}

/// Builds the starter table ([`starter_table`]) and writes it to `options.table`, which must
/// not exist (it is created, never overwritten).
///
/// # Errors
/// [`InitError::Exists`] when the table exists, the errors of [`starter_table`], and
/// [`InitError::Io`] when it cannot be written.
pub fn write_starter_table(options: &InitOptions) -> Result<Starter, InitError> {
    if options.table.exists() {
        return Err(InitError::Exists(options.table.clone()));
    }
    let starter = starter_table(options)?;
    let io = |action, source| InitError::Io {
        action,
        path: options.table.clone(),
        source,
    };
    // `create_new`: a table that appeared meanwhile is not overwritten either.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&options.table)
        .map_err(|err| {
            if err.kind() == std::io::ErrorKind::AlreadyExists {
                InitError::Exists(options.table.clone())
            } else {
                io("create", err)
            }
        })?;
    std::io::Write::write_all(&mut file, starter.text.as_bytes())
        .map_err(|err| io("write", err))?;
    Ok(starter)
}

/// How the table names its protos and channels.
#[derive(Debug)]
struct Layout {
    /// The include directory, relative to the table's folder.
    include: String,
    /// The files, relative to the include directory.
    files: Vec<String>,
    service: Option<String>,
    channel_per: ChannelPer,
}

/// The rows and the messages left out, in file and declaration order.
#[derive(Debug, Default)]
struct Plan {
    /// (file, package, message) of each row.
    events: Vec<(String, String, MessageDescriptor)>,
    /// (full name, reason) of each message left out.
    left_out: Vec<(String, String)>,
}

/// Decides which top-level messages of `files` become rows.
fn plan(pool: &DescriptorPool, files: &[String]) -> Plan {
    let selected: Vec<_> = pool
        .files()
        .filter(|file| files.iter().any(|f| f == file.name()))
        .collect();
    let mut rpc_types = BTreeSet::new();
    let mut field_types = BTreeSet::new();
    for file in &selected {
        for service in file.services() {
            for method in service.methods() {
                rpc_types.insert(method.input().full_name().to_owned());
                rpc_types.insert(method.output().full_name().to_owned());
            }
        }
        for message in file.messages() {
            collect_field_types(&message, &mut field_types);
        }
    }
    let mut plan = Plan::default();
    for file in &selected {
        for message in file.messages() {
            let name = message.full_name().to_owned();
            let reason = if rpc_types.contains(&name) {
                Some("the request or response of an rpc")
            } else if field_types.contains(&name) {
                Some("a field type of other messages")
            } else if message.is_map_entry() {
                Some("a map entry")
            } else if !looks_like_event(message.name()) {
                Some("its name is not an event's (past tense, or ending in `Event`)")
            } else {
                None
            };
            match reason {
                Some(reason) => plan.left_out.push((name, reason.to_owned())),
                None => plan.events.push((
                    file.name().to_owned(),
                    file.package_name().to_owned(),
                    message,
                )),
            }
        }
    }
    plan
}

/// Adds the message types of `message`'s fields (and of its nested messages' fields).
fn collect_field_types(message: &MessageDescriptor, into: &mut BTreeSet<String>) {
    for field in message.fields() {
        if let Some(inner) = message_kind(&field) {
            into.insert(inner.full_name().to_owned());
        }
    }
    for nested in message.child_messages() {
        collect_field_types(&nested, into);
    }
}

/// The message type of a field (of a map's values for a map field).
fn message_kind(field: &FieldDescriptor) -> Option<MessageDescriptor> {
    match field.kind() {
        Kind::Message(message) if message.is_map_entry() => {
            match message.map_entry_value_field().kind() {
                Kind::Message(value) => Some(value),
                _ => None,
            }
        }
        Kind::Message(message) => Some(message),
        _ => None,
    }
}

/// Every `.proto` file under `dir`, relative to it (with `/`), sorted.
fn proto_files(dir: &Path) -> Result<Vec<String>, InitError> {
    fn walk(dir: &Path, prefix: &str, found: &mut BTreeMap<String, ()>) -> Result<(), InitError> {
        let entries = std::fs::read_dir(dir).map_err(|source| InitError::Io {
            action: "read",
            path: dir.to_path_buf(),
            source,
        })?;
        for entry in entries {
            let entry = entry.map_err(|source| InitError::Io {
                action: "read",
                path: dir.to_path_buf(),
                source,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &format!("{prefix}{name}/"), found)?;
            } else if name.ends_with(".proto") {
                found.insert(format!("{prefix}{name}"), ());
            }
        }
        Ok(())
    }
    let mut found = BTreeMap::new();
    walk(dir, "", &mut found)?;
    Ok(found.into_keys().collect())
}

/// `target` as seen from the folder `from` (both relative to the current directory, or
/// absolute), with `/` separators; `target` as given when no relative path leads there.
fn relative_to(from: &Path, target: &Path) -> String {
    let absolute = |path: &Path| {
        std::path::absolute(if path.as_os_str().is_empty() {
            Path::new(".")
        } else {
            path
        })
        .map(|p| normalize(&p))
    };
    let (Ok(from), Ok(target)) = (absolute(from), absolute(target)) else {
        return target.to_string_lossy().replace('\\', "/");
    };
    let from: Vec<_> = from.components().collect();
    let target: Vec<_> = target.components().collect();
    let common = from.iter().zip(&target).take_while(|(a, b)| a == b).count();
    // Nothing in common but the root: the absolute path says more than `../../..`.
    if common <= 1 {
        return target
            .iter()
            .collect::<PathBuf>()
            .to_string_lossy()
            .replace('\\', "/");
    }
    let mut parts: Vec<String> = vec!["..".to_owned(); from.len() - common];
    parts.extend(
        target[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".to_owned()
    } else {
        parts.join("/")
    }
}

/// `path` without `.` and with `..` applied.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_from_the_table_folder() {
        assert_eq!(relative_to(Path::new(""), Path::new("proto")), "proto");
        assert_eq!(
            relative_to(Path::new("svc"), Path::new("proto")),
            "../proto"
        );
        assert_eq!(
            relative_to(Path::new("a/b"), Path::new("a/proto")),
            "../proto"
        );
        assert_eq!(relative_to(Path::new("proto"), Path::new("proto")), ".");
        assert_eq!(
            relative_to(Path::new("./x/.."), Path::new("./proto/")),
            "proto"
        );
    }
}
