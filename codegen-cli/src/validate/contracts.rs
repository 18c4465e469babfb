//! The contract of each proto message the table's integration events are encoded as
//! (crate `eventmap-contract`): computed once, at build time, from the protos.

use std::collections::BTreeMap;

use eventmap_contract::{Dataschema, Schema};

use crate::model::{DomainEvent, MessageContract, Subscription};
use crate::protos::ProtoSet;

/// The contracts of the messages of `events` (published) and `subscriptions` (received), by
/// full name. A message the protos do not have (already reported by the checks) has none.
pub(super) fn of(
    protos: &ProtoSet,
    events: &[DomainEvent],
    subscriptions: &[Subscription],
) -> Vec<MessageContract> {
    let published = events
        .iter()
        .flat_map(|event| &event.integrations)
        .map(|ie| ie.message.full_name.as_str());
    let received = subscriptions
        .iter()
        .flat_map(|subscription| &subscription.events)
        .map(|event| event.message.full_name.as_str());
    let mut contracts = BTreeMap::new();
    for name in published.chain(received) {
        if contracts.contains_key(name) {
            continue;
        }
        let Some(descriptor) = protos.pool().get_message_by_name(name) else {
            continue;
        };
        let schema = Schema::from_message(&descriptor);
        contracts.insert(
            name.to_owned(),
            MessageContract {
                message: name.to_owned(),
                dataschema: Dataschema::of(&schema).to_string(),
                schema: schema.to_bytes(),
            },
        );
    }
    contracts.into_values().collect()
}
