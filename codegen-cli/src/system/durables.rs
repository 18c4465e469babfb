//! Durable consumer names across tables: two services sharing a durable consumer on a stream
//! split its messages between them, each receiving part of the other's events (a known fault
//! of designs where every service names its consumer after the stream).

use super::{Found, Service};
use crate::rules;

/// `shared-durable`: reported in each table whose subscription has the durable name of a
/// subscription of another table, with a note at each other one.
pub(super) fn check(services: &[Service<'_>], found: &mut Found) {
    for service in services {
        for subscription in &service.model.subscriptions {
            let others: Vec<_> = services
                .iter()
                .filter(|other| other.index != service.index)
                .flat_map(|other| {
                    other
                        .model
                        .subscriptions
                        .iter()
                        .filter(|s| s.durable == subscription.durable)
                        .map(move |s| (other, s))
                })
                .collect();
            if others.is_empty() {
                continue;
            }
            let written = service.subscription(&subscription.name);
            let at = written
                .and_then(|s| s.durable.as_ref())
                .and_then(|d| service.loc(d.referenced))
                .or_else(|| service.subscription_loc(&subscription.name));
            let stream = service
                .channel(&subscription.channel)
                .map_or("", |c| c.stream.as_str());
            let d = found.add(
                service,
                rules::SHARED_DURABLE,
                format!(
                    "subscription `{}` uses the durable consumer `{}`, as {} of another table: on one stream the services split each other's events, each message reaching only one of them",
                    subscription.name,
                    subscription.durable,
                    if others.len() == 1 { "a subscription" } else { "subscriptions" }
                ),
                at,
            );
            for (other, theirs) in &others {
                let their_stream = other
                    .channel(&theirs.channel)
                    .map_or("", |c| c.stream.as_str());
                let location = other
                    .subscription(&theirs.name)
                    .and_then(|s| s.durable.as_ref())
                    .and_then(|d| other.loc(d.referenced))
                    .or_else(|| other.subscription_loc(&theirs.name));
                d.notes.push((
                    format!(
                        "`{}`'s subscription `{}` uses it on stream `{their_stream}`{}",
                        other.name(),
                        theirs.name,
                        if their_stream == stream { " too" } else { "" }
                    ),
                    location,
                ));
            }
            let own = format!("{}-{}", service.name(), subscription.name);
            d.hint = Some(if subscription.durable == own {
                "give each service a durable of its own, named after the service (`<service>-<subscription>`)".to_owned()
            } else {
                format!("give each service a durable of its own, e.g. `{own}`")
            });
        }
    }
}
