//! `eventmap permissions`: the NATS permissions a service needs, and no more, computed from its
//! checked mapping table, with the reason for every subject.
//!
//! A table says what its service publishes (its integration events, on its channels) and
//! consumes (its `subscriptions:`, each a durable consumer with its dead letters). From that,
//! [`for_table`] lists the subjects the service may publish on and subscribe to
//! ([`ServicePermissions`]); module `grants` holds the rules, each tied to the runtime call that
//! needs it. [`server_config`] writes them as the `authorization` block of a nats-server
//! configuration, [`json`] as JSON; the same subjects go into `nsc edit user --allow-pub /
//! --allow-sub` for accounts with JWTs. `docs/security.md` of this project explains each
//! subject and what stays the operator's job.
//!
//! Output is deterministic: table order, no timestamps; a subject needed for several reasons is
//! listed once with all of them.
//!
//! ```no_run
//! use eventmap_codegen::permissions::{self, Options};
//! let analysis = eventmap_codegen::analyze("mappings.yaml".as_ref())?;
//! let service = permissions::for_table(&analysis, &Options::default())?;
//! println!("{}", permissions::server_config(&[service])?);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod grants;
mod json;
mod server_config;

use std::path::PathBuf;

pub use json::json;
pub use server_config::server_config;

use crate::{Analysis, Error};

/// The inbox prefix of NATS clients unless configured otherwise (async-nats
/// `ConnectOptions::custom_inbox_prefix`).
pub const DEFAULT_INBOX_PREFIX: &str = "_INBOX";

/// Stands for the table's `service` in [`Options::inbox_prefix`]: `_INBOX_{service}` is
/// `_INBOX_search` for the table of service `search`.
pub const SERVICE_PLACEHOLDER: &str = "{service}";

/// Choices that the table does not make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The user name; `None`: the table's `service`.
    pub user: Option<String>,
    /// The prefix of the service's reply subjects ([`DEFAULT_INBOX_PREFIX`], or the
    /// `custom_inbox_prefix` the service connects with: the stronger choice, since a user
    /// allowed `_INBOX.>` can also subscribe to the replies meant for other services).
    /// [`SERVICE_PLACEHOLDER`] in it stands for the table's `service`, so that one
    /// configuration gives every service a prefix of its own (`_INBOX_{service}`).
    pub inbox_prefix: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            user: None,
            inbox_prefix: DEFAULT_INBOX_PREFIX.to_owned(),
        }
    }
}

/// One allowed subject (it may hold the NATS wildcards `*` and `>`) and why it is there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Grant {
    /// The subject, or subject filter.
    pub subject: String,
    /// Each reason, in table order: which channel, event, durable or dead letter it serves.
    pub why: Vec<String>,
}

/// The permissions of one service's NATS user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServicePermissions {
    /// The NATS user name.
    pub user: String,
    /// The table it comes from, as given.
    pub table: PathBuf,
    /// Subjects the user may publish on (requests to the JetStream API included).
    pub publish: Vec<Grant>,
    /// Subjects the user may subscribe to.
    pub subscribe: Vec<Grant>,
}

impl ServicePermissions {
    /// The environment variable that holds the user's password in the generated configuration:
    /// `NATS_PASSWORD_<USER>`, the user name upper-cased with every character other than ASCII
    /// letters and digits replaced by `_` (nats-server reads a variable the configuration does
    /// not define from the environment).
    pub fn password_variable(&self) -> String {
        let suffix: String = self
            .user
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    '_'
                }
            })
            .collect();
        format!("NATS_PASSWORD_{suffix}")
    }
}

/// The permissions cannot be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PermissionsError {
    /// Two tables give the same user (their `service`, or the same `--user`).
    #[error(
        "user `{user}` is given by both `{first}` and `{second}`: each service needs a user of its own"
    )]
    DuplicateUser {
        /// The user name.
        user: String,
        /// The first table.
        first: PathBuf,
        /// The second table.
        second: PathBuf,
    },
    /// Two user names give the same password variable.
    #[error(
        "users `{first}` and `{second}` would share the password variable `{variable}`: rename one"
    )]
    SharedPasswordVariable {
        /// The variable.
        variable: String,
        /// The first user.
        first: String,
        /// The second user.
        second: String,
    },
    /// The user name is empty or holds a character other than ASCII letters, digits, `-`,
    /// `_` and `.`.
    #[error("invalid NATS user name {0:?}: use ASCII letters, digits, `-`, `_` and `.`")]
    InvalidUser(String),
    /// The inbox prefix is not a subject prefix without wildcards.
    #[error(
        "invalid inbox prefix {0:?}: it must be one or more subject tokens (no spaces, `*` or `>`)"
    )]
    InvalidInboxPrefix(String),
    /// There is no table to write permissions for.
    #[error("no mapping table given")]
    NoTable,
}

/// The permissions of the service of `analysis`'s table: publish on its integration events'
/// subjects and the JetStream API calls of its streams; for each subscription, the calls of its
/// durable consumer, its acks and its dead letters; subscribe on its replies.
///
/// # Errors
/// [`Error::Invalid`] when the table has errors (the diagnostics of `eventmap check`);
/// [`Error::Permissions`] for an invalid [`Options::user`] or [`Options::inbox_prefix`].
pub fn for_table(analysis: &Analysis, options: &Options) -> Result<ServicePermissions, Error> {
    let model = analysis.model()?;
    let user = options
        .user
        .clone()
        .unwrap_or_else(|| model.service.clone());
    if !valid_user(&user) {
        return Err(PermissionsError::InvalidUser(user).into());
    }
    let inbox_prefix = options
        .inbox_prefix
        .replace(SERVICE_PLACEHOLDER, &model.service);
    if !valid_prefix(&inbox_prefix) {
        return Err(PermissionsError::InvalidInboxPrefix(inbox_prefix).into());
    }
    let (publish, subscribe) = grants::of_model(model, &inbox_prefix);
    Ok(ServicePermissions {
        user,
        table: analysis.file.clone(),
        publish,
        subscribe,
    })
}

/// Checks that `services` can go into one configuration: at least one, every user and password
/// variable distinct.
fn check_users(services: &[ServicePermissions]) -> Result<(), PermissionsError> {
    if services.is_empty() {
        return Err(PermissionsError::NoTable);
    }
    for (index, service) in services.iter().enumerate() {
        for earlier in &services[..index] {
            if earlier.user == service.user {
                return Err(PermissionsError::DuplicateUser {
                    user: service.user.clone(),
                    first: earlier.table.clone(),
                    second: service.table.clone(),
                });
            }
            if earlier.password_variable() == service.password_variable() {
                return Err(PermissionsError::SharedPasswordVariable {
                    variable: service.password_variable(),
                    first: earlier.user.clone(),
                    second: service.user.clone(),
                });
            }
        }
    }
    Ok(())
}

/// A user name written as is in the configuration and in the password variable's name.
fn valid_user(user: &str) -> bool {
    !user.is_empty()
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Subject tokens without wildcards or whitespace (a NATS subject prefix).
fn valid_prefix(prefix: &str) -> bool {
    prefix.split('.').all(|token| {
        !token.is_empty()
            && token != "*"
            && token != ">"
            && !token.chars().any(|c| c.is_whitespace() || c.is_control())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(user: &str, table: &str) -> ServicePermissions {
        ServicePermissions {
            user: user.to_owned(),
            table: table.into(),
            publish: Vec::new(),
            subscribe: Vec::new(),
        }
    }

    #[test]
    fn password_variable_is_the_upper_cased_user() {
        assert_eq!(
            service("search", "t").password_variable(),
            "NATS_PASSWORD_SEARCH"
        );
        assert_eq!(
            service("order-relay.1", "t").password_variable(),
            "NATS_PASSWORD_ORDER_RELAY_1"
        );
    }

    #[test]
    fn users_must_be_distinct() {
        let err = check_users(&[service("a", "x.yaml"), service("a", "y.yaml")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "user `a` is given by both `x.yaml` and `y.yaml`: each service needs a user of its own"
        );
        let err = check_users(&[service("a-b", "x"), service("a_b", "y")]).unwrap_err();
        assert!(
            matches!(&err, PermissionsError::SharedPasswordVariable { variable, .. } if variable == "NATS_PASSWORD_A_B"),
            "{err:?}"
        );
        assert!(matches!(check_users(&[]), Err(PermissionsError::NoTable)));
        assert!(check_users(&[service("a", "x"), service("b", "y")]).is_ok());
    }

    #[test]
    fn user_names_and_prefixes() {
        assert!(valid_user("ordering-relay_1.a"));
        assert!(!valid_user(""));
        assert!(!valid_user("a b"));
        assert!(!valid_user("a\"b"));
        assert!(valid_prefix("_INBOX"));
        assert!(valid_prefix("_INBOX_search.x"));
        assert!(!valid_prefix(""));
        assert!(!valid_prefix("_INBOX."));
        assert!(!valid_prefix("_INBOX.>"));
        assert!(!valid_prefix("a.*.b"));
        assert!(!valid_prefix("a b"));
    }
}
