//! The permissions as JSON: the same lists as the nats-server configuration, for tools (an
//! operator's templating, `nsc edit user --allow-pub/--allow-sub`, a test).

use std::path::Path;

use serde::Serialize;

use super::{Grant, PermissionsError, ServicePermissions, check_users};

#[derive(Serialize)]
struct Document<'a> {
    users: Vec<User<'a>>,
}

#[derive(Serialize)]
struct User<'a> {
    user: &'a str,
    table: String,
    password_env: String,
    publish: Allow<'a>,
    subscribe: Allow<'a>,
}

#[derive(Serialize)]
struct Allow<'a> {
    allow: &'a [Grant],
}

/// `services` as pretty-printed JSON: `{"users": [{"user", "table", "password_env",
/// "publish": {"allow": [{"subject", "why": [...]}]}, "subscribe": {"allow": [...]}}]}`, keys in
/// that order, users and subjects in the order of [`ServicePermissions`]; `password_env` names
/// the environment variable of the password (never the password).
///
/// # Errors
/// [`PermissionsError`] when `services` is empty or two share a user or password variable.
pub fn json(services: &[ServicePermissions]) -> Result<String, PermissionsError> {
    check_users(services)?;
    let document = Document {
        users: services
            .iter()
            .map(|service| User {
                user: &service.user,
                table: portable(&service.table),
                password_env: service.password_variable(),
                publish: Allow {
                    allow: &service.publish,
                },
                subscribe: Allow {
                    allow: &service.subscribe,
                },
            })
            .collect(),
    };
    // Strings and lists only: serializing cannot fail.
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    Ok(text)
}

/// The path with `/` separators, the same on every platform.
fn portable(path: &Path) -> String {
    path.to_string_lossy().replace('\\', "/")
}
