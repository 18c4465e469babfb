//! Who consumes what across tables: each subscription linked to the producers' channels it
//! consumes (same subject and stream), for `eventmap docs` over several tables.

use super::Service;
use crate::Analysis;

/// Every link between a producer's channel and a subscription of another table (or of the
/// same table) that consumes it, in table order of the consumers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wiring {
    /// The links.
    pub links: Vec<Link>,
}

/// A producer's channel and one subscription consuming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The index of the producer's table among the tables given.
    pub producer: usize,
    /// The producer's `service`.
    pub producer_service: String,
    /// The producer's channel (its name in the producer's table).
    pub channel: String,
    /// The consuming subscription.
    pub consumer: Consumer,
}

/// A subscription that consumes a producer's channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consumer {
    /// The index of the consumer's table among the tables given.
    pub table: usize,
    /// The consumer's `service`.
    pub service: String,
    /// The subscription's name.
    pub subscription: String,
    /// Its durable consumer name.
    pub durable: String,
    /// The events it receives that the producer publishes on the channel, in the
    /// subscription's order.
    pub events: Vec<String>,
}

impl Wiring {
    /// The subscriptions consuming `channel` of the producer `producer` (a table index).
    pub fn consumers_of<'w>(
        &'w self,
        producer: usize,
        channel: &'w str,
    ) -> impl Iterator<Item = &'w Consumer> + 'w {
        self.links
            .iter()
            .filter(move |l| l.producer == producer && l.channel == channel)
            .map(|l| &l.consumer)
    }

    /// The links of the subscription `subscription` of the table `consumer`: the producers
    /// it consumes.
    pub fn producers_of<'w>(
        &'w self,
        consumer: usize,
        subscription: &'w str,
    ) -> impl Iterator<Item = &'w Link> + 'w {
        self.links.iter().filter(move |l| {
            l.consumer.table == consumer && l.consumer.subscription == subscription
        })
    }
}

/// The links between the tables of `analyses` (tables with errors are left out).
pub fn wiring(analyses: &[Analysis]) -> Wiring {
    let services: Vec<Service<'_>> = analyses
        .iter()
        .enumerate()
        .filter(|(_, a)| !a.has_errors())
        .filter_map(|(index, a)| Service::of(index, a))
        .collect();
    let mut links = Vec::new();
    for consumer in &services {
        for subscription in &consumer.model.subscriptions {
            let Some(consumed) = consumer.channel(&subscription.channel) else {
                continue;
            };
            for producer in &services {
                for channel in producer
                    .published_channels()
                    .filter(|c| c.subject == consumed.subject && c.stream == consumed.stream)
                {
                    let events = subscription
                        .events
                        .iter()
                        .filter(|e| {
                            producer
                                .published_on(&channel.name)
                                .any(|i| i.name == e.name)
                        })
                        .map(|e| e.name.clone())
                        .collect();
                    links.push(Link {
                        producer: producer.index,
                        producer_service: producer.name().to_owned(),
                        channel: channel.name.clone(),
                        consumer: Consumer {
                            table: consumer.index,
                            service: consumer.name().to_owned(),
                            subscription: subscription.name.clone(),
                            durable: subscription.durable.clone(),
                            events,
                        },
                    });
                }
            }
        }
    }
    Wiring { links }
}
