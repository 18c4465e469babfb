//! What the other tables documented together say about one table (`eventmap docs` over
//! several tables): who consumes the channels it publishes on, and who publishes what its
//! subscriptions receive. Empty for a table documented alone, whose documents then say that
//! the consumers are not declared.

use crate::system::{Consumer, Wiring};

/// The peers of one table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Peers {
    /// Whether the table is documented with other tables.
    pub together: bool,
    /// The consumers of the channels the table publishes on: (channel name, consumer), in
    /// the order of the tables given.
    consumers: Vec<(String, Consumer)>,
    /// The producers of what each subscription receives: (subscription name, producer's
    /// service).
    producers: Vec<(String, String)>,
}

impl Peers {
    /// The peers of the table at `index` among the tables `wiring` links.
    pub fn of(wiring: &Wiring, index: usize) -> Peers {
        let consumers = wiring
            .links
            .iter()
            .filter(|l| l.producer == index && !l.consumer.events.is_empty())
            .map(|l| (l.channel.clone(), l.consumer.clone()))
            .collect();
        let mut producers: Vec<(String, String)> = Vec::new();
        for link in wiring.links.iter().filter(|l| l.consumer.table == index) {
            let pair = (
                link.consumer.subscription.clone(),
                link.producer_service.clone(),
            );
            if !producers.contains(&pair) {
                producers.push(pair);
            }
        }
        Peers {
            together: true,
            consumers,
            producers,
        }
    }

    /// The subscriptions consuming events of the channel `channel`.
    pub fn of_channel(&self, channel: &str) -> Vec<&Consumer> {
        self.consumers
            .iter()
            .filter(|(c, _)| c == channel)
            .map(|(_, consumer)| consumer)
            .collect()
    }

    /// The subscriptions receiving the event `event` of the channel `channel`.
    pub fn of_event(&self, channel: &str, event: &str) -> Vec<&Consumer> {
        self.of_channel(channel)
            .into_iter()
            .filter(|c| c.events.iter().any(|e| e == event))
            .collect()
    }

    /// The services publishing what the subscription `subscription` receives.
    pub fn producers(&self, subscription: &str) -> Vec<&str> {
        self.producers
            .iter()
            .filter(|(s, _)| s == subscription)
            .map(|(_, service)| service.as_str())
            .collect()
    }

    /// What the documents say when nobody consumes: the consumers are not declared (a table
    /// documented alone), or none of the tables documented together consumes.
    pub fn nobody(&self) -> &'static str {
        if self.together {
            "none among the tables documented together"
        } else {
            "none declared yet"
        }
    }
}
