//! Checks of CloudEvents types (`ce_type:` of a row, or of an event a subscription receives):
//! each by the CloudEvents rules for `type`, and unique where a consumer decodes by it.

use std::collections::HashMap;

use serde_saphyr::{Location, Spanned};

use super::Validator;
use crate::rules;
use crate::table::{Key, Table};

pub(super) use crate::rust_names::ce_type_const as const_ident;

/// Checks a CloudEvents `type` value, by the rules of the CloudEvents 1.0.2 specification
/// (<https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md#type>): `type` is a
/// REQUIRED attribute that "MUST be a non-empty string" of the `String` type, whose
/// "Type System" disallows the control characters U+0000-U+001F and U+007F-U+009F and the
/// Unicode noncharacters (unpaired surrogates cannot occur in Rust text). eventmap writes it
/// as the NATS header `ce-type`, which does not keep leading or trailing whitespace, so that
/// is refused too. The specification's "SHOULD be prefixed with a reverse-DNS name" is a
/// recommendation and not checked (the default type, the integration event name, has none).
///
/// # Errors
/// Why the value cannot be a CloudEvents type.
pub(crate) fn check_ce_type(ce_type: &str) -> Result<(), String> {
    if ce_type.is_empty() {
        return Err("it is empty (CloudEvents: `type` MUST be a non-empty string)".into());
    }
    if let Some(c) = ce_type
        .chars()
        .find(|c| matches!(u32::from(*c), 0x00..=0x1F | 0x7F..=0x9F))
    {
        return Err(format!(
            "it contains the control character U+{:04X} (CloudEvents strings disallow U+0000-U+001F and U+007F-U+009F)",
            u32::from(c)
        ));
    }
    if let Some(c) = ce_type.chars().find(|c| is_noncharacter(*c)) {
        return Err(format!(
            "it contains the Unicode noncharacter U+{:04X} (CloudEvents strings disallow noncharacters)",
            u32::from(c)
        ));
    }
    if ce_type.starts_with(char::is_whitespace) || ce_type.ends_with(char::is_whitespace) {
        return Err(
            "it begins or ends with whitespace, which the NATS header `ce-type` does not keep"
                .into(),
        );
    }
    Ok(())
}

/// Unicode noncharacters: U+FDD0-U+FDEF and the last two code points of every plane.
fn is_noncharacter(c: char) -> bool {
    let n = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&n) || n & 0xFFFE == 0xFFFE
}

/// The hint for an integration event name that is not a Rust identifier: a dotted
/// CloudEvents type goes into `ce_type:`.
pub(super) fn name_hint(name: &str) -> String {
    if name.contains('.') {
        format!(
            "`name:` is the last subject token and the Rust names; write the CloudEvents type in `ce_type: {name}` and give the event a name of letters, digits and `_`, e.g. `{}`",
            crate::rust_names::upper_camel(name.rsplit('.').next().unwrap_or(name))
        )
    } else {
        "use letters, digits and `_`, e.g. `OrderCreatedEvent`".into()
    }
}

/// A `ce-type` seen on a channel (or in a subscription): whose it is and where.
struct Seen {
    /// The integration event name.
    name: String,
    /// Where its `ce_type` (or, by default, its name) is written.
    at: Location,
    /// Whether the table writes a `ce_type` for it.
    explicit: bool,
}

impl Validator<'_> {
    /// Checks every `ce_type` of the table (rule `invalid-ce-type`) and that no two rows of
    /// one channel, nor two events of one subscription, have the same `ce-type`
    /// (`duplicate-ce-type`): a consumer decodes by it.
    pub(super) fn ce_types(&mut self, table: &Table) {
        // channel -> ce-type -> the first row with it
        let mut by_channel: HashMap<&str, HashMap<&str, Seen>> = HashMap::new();
        for (_, entry) in &table.events {
            for row in entry.value.integrations() {
                let name = &row.name;
                let (ce_type, at) = match &row.ce_type {
                    Some(t) => {
                        if !self.ce_type(t) {
                            continue;
                        }
                        (t.value.as_str(), t.referenced)
                    }
                    None => (name.value.as_str(), name.referenced),
                };
                let seen = by_channel.entry(row.channel.value.as_str()).or_default();
                let this = Seen {
                    name: name.value.clone(),
                    at,
                    explicit: row.ce_type.is_some(),
                };
                self.unique_ce_type(
                    seen,
                    ce_type,
                    this,
                    &format!("channel `{}`", row.channel.value),
                );
            }
        }
        for (key, subscription) in &table.subscriptions {
            self.own_ce_types(table, subscription);
            let mut seen: HashMap<&str, Seen> = HashMap::new();
            for (event, received) in &subscription.events {
                let (ce_type, at) = match received.value.ce_type() {
                    Some(t) => {
                        if !self.ce_type(t) {
                            continue;
                        }
                        (t.value.as_str(), t.referenced)
                    }
                    None => (event.as_str(), event.location()),
                };
                let this = Seen {
                    name: event.as_str().to_owned(),
                    at,
                    explicit: received.value.ce_type().is_some(),
                };
                self.unique_ce_type(
                    &mut seen,
                    ce_type,
                    this,
                    &format!("subscription `{}`", Key::as_str(key)),
                );
            }
        }
    }

    /// A subscription to a channel the table publishes on: each event it receives under the
    /// name of one of the table's rows on that channel must expect the row's `ce-type`
    /// (`ce-type-mismatch`), or the consumer would reject every message of it.
    fn own_ce_types(&mut self, table: &Table, subscription: &crate::table::Subscription) {
        let channel = subscription.channel.value.as_str();
        for (event, received) in &subscription.events {
            let Some(row) = table
                .events
                .values()
                .flat_map(|entry| entry.value.integrations())
                .find(|row| row.channel.value == channel && row.name.value == event.as_str())
            else {
                continue;
            };
            let published = row.ce_type.as_ref().map_or(&row.name, |t| t);
            let expected = received.value.ce_type();
            let expected_text = expected.map_or(event.as_str(), |t| t.value.as_str());
            if published.value == expected_text {
                continue;
            }
            let at = expected.map_or(event.location(), |t| t.referenced);
            let note = self.cx.loc(published.referenced);
            let d = self.cx.error(
                rules::CE_TYPE_MISMATCH,
                at,
                format!(
                    "`{}` is received as the CloudEvents type `{expected_text}`, but the table publishes it on channel `{channel}` as `{}`: every message of it would be rejected",
                    event.as_str(),
                    published.value
                ),
            );
            d.notes
                .push(("the table publishes it with this type".into(), note));
            d.hint = Some(format!(
                "receive it as `{}: {{ message: .., ce_type: {} }}`",
                event.as_str(),
                published.value
            ));
        }
    }

    /// Checks one `ce_type` value (rule `invalid-ce-type`); whether it is valid.
    fn ce_type(&mut self, ce_type: &Spanned<String>) -> bool {
        let Err(why) = check_ce_type(&ce_type.value) else {
            return true;
        };
        self.cx.error(
            rules::INVALID_CE_TYPE,
            ce_type.referenced,
            format!("{:?} is not a valid CloudEvents type: {why}", ce_type.value),
        )
        .hint = Some(
            "write printable characters without surrounding spaces; CloudEvents recommends a reverse-DNS name, e.g. `com.example.ordering.OrderCreated`"
                .into(),
        );
        false
    }

    /// Records `ce_type` of `this` in `seen` (the types of one channel or subscription, named
    /// by `scope`), or reports it as a duplicate. Two rows with the same name (and no
    /// `ce_type`) are `duplicate-integration-event`'s to report.
    fn unique_ce_type<'t>(
        &mut self,
        seen: &mut HashMap<&'t str, Seen>,
        ce_type: &'t str,
        this: Seen,
        scope: &str,
    ) {
        match seen.get(ce_type) {
            None => {
                seen.insert(ce_type, this);
            }
            Some(first) if !first.explicit && !this.explicit => {}
            Some(first) => {
                let note = self.cx.loc(first.at);
                let message = format!(
                    "`{}` and `{}` both have the CloudEvents type `{ce_type}` on {scope}: a consumer could not tell them apart",
                    first.name, this.name
                );
                let d = self.cx.error(rules::DUPLICATE_CE_TYPE, this.at, message);
                d.notes
                    .push((format!("`{}` has it here", first.name), note));
                d.hint = Some("give each integration event a `ce_type` of its own".into());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ce_types_by_the_cloudevents_rules() {
        for good in [
            "com.example.ordering.OrderCreated",
            "OrderCreatedEvent",
            "com.example.ordering.order-created.v1",
            "com.github.pull_request.opened",
            "urn:example:order created",
            "com.exämple.Bestellung",
        ] {
            assert_eq!(check_ce_type(good), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("", "empty"),
            ("com.example\nOrderCreated", "U+000A"),
            ("com.example\tOrderCreated", "U+0009"),
            ("com.example\u{7f}", "U+007F"),
            ("com.example\u{85}", "U+0085"),
            ("com.example\u{fdd0}", "noncharacter U+FDD0"),
            ("com.example\u{1fffe}", "noncharacter U+1FFFE"),
            (" com.example.X", "whitespace"),
            ("com.example.X ", "whitespace"),
        ] {
            let err = check_ce_type(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn a_dotted_name_is_pointed_at_ce_type() {
        let hint = name_hint("com.example.ordering.OrderCreated");
        assert!(
            hint.contains("ce_type: com.example.ordering.OrderCreated"),
            "{hint}"
        );
        assert!(hint.contains("`OrderCreated`"), "{hint}");
        assert!(!name_hint("Order Created").contains("ce_type"));
    }
}
