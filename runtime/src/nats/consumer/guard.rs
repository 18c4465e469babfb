//! The contract guard of a [`Consumer`](super::Consumer) (feature `contracts`): before a
//! message is decoded, its `ce-dataschema` is compared with the consumer's own contract of the
//! event; a different one is judged once against the producer's contract in the registry
//! ([`ContractRegistry`](crate::nats::ContractRegistry)) and the verdict is cached per
//! fingerprint. Without the feature, every message is admitted.

use crate::contract::IncompatibleContract;

/// What the guard says about one message.
#[derive(Debug)]
#[cfg_attr(not(feature = "contracts"), allow(dead_code))]
pub(super) enum Admission {
    /// Decode and handle it.
    Handle,
    /// The policy is [`ContractPolicy::Refuse`](super::ContractPolicy::Refuse): stop the
    /// consumer (the message is naked at once).
    Refuse(IncompatibleContract),
    /// The policy is [`ContractPolicy::DeadLetter`](super::ContractPolicy::DeadLetter):
    /// dead-letter it with the reason and terminate it.
    DeadLetter(String),
    /// The producer's contract could not be read now (registry unreachable): nak it with the
    /// backoff, judge it again on its redelivery.
    Retry(String),
}

#[cfg(feature = "contracts")]
pub(super) use enabled::Guard;

#[cfg(not(feature = "contracts"))]
pub(super) use disabled::Guard;

#[cfg(not(feature = "contracts"))]
mod disabled {
    use async_nats::jetstream::Context;

    use super::Admission;
    use crate::decode::IntegrationEventSet;
    use crate::nats::consumer::{ConsumerSpec, StartError};
    use crate::nats::delivery::Received;

    /// Without the feature `contracts`: admits everything.
    #[derive(Debug)]
    pub(in crate::nats::consumer) struct Guard;

    impl Guard {
        #[allow(clippy::extra_unused_type_parameters)] // the signature of the enabled guard
        pub(in crate::nats::consumer) async fn start<E: IntegrationEventSet>(
            _context: &Context,
            _spec: &ConsumerSpec,
            _names: &[&'static str],
        ) -> Result<Self, StartError> {
            Ok(Self)
        }

        pub(in crate::nats::consumer) async fn admit(&self, _received: &Received) -> Admission {
            Admission::Handle
        }
    }
}

#[cfg(feature = "contracts")]
mod enabled {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use async_nats::jetstream::Context;
    use eventmap_contract::{Dataschema, Schema, compatibility};

    use super::Admission;
    use crate::contract::IncompatibleContract;
    use crate::decode::IntegrationEventSet;
    use crate::message::headers;
    use crate::nats::consumer::{ConsumerSpec, ContractPolicy, StartError};
    use crate::nats::delivery::Received;
    use crate::nats::registry::{ContractRegistry, RegistryError};

    /// The consumer's own contract of one subscribed event.
    #[derive(Debug)]
    struct Own {
        /// The event's `ce-type`.
        ce_type: &'static str,
        /// Its subject.
        subject: String,
        dataschema: &'static str,
        schema: Schema,
    }

    /// A judged producer contract.
    #[derive(Debug, Clone)]
    enum Verdict {
        Compatible,
        Incompatible(IncompatibleContract),
    }

    /// How long a verdict on a contract the registry does not hold (yet) is kept: the
    /// producer may register it a moment later (it registers at start, and a consumer may see
    /// the first message of a producer whose registration it has not read), so it is judged
    /// again after this, instead of being refused until the consumer restarts.
    const RECHECK_UNREGISTERED: Duration = Duration::from_secs(5);

    /// A verdict and, for one on a contract the registry does not hold, until when it holds.
    type Cached = (Verdict, Option<Instant>);

    /// The guard: the consumer's contracts, the registry and the verdicts so far.
    #[derive(Debug)]
    pub(in crate::nats::consumer) struct Guard {
        /// Empty: the event set has no contracts, nothing is checked.
        own: Vec<Own>,
        durable: String,
        policy: ContractPolicy,
        context: Context,
        /// Opened at start, or later once a producer created it.
        registry: Mutex<Option<ContractRegistry>>,
        /// Per (own contract, producer `dataschema`).
        verdicts: Mutex<HashMap<(usize, String), Cached>>,
    }

    impl Guard {
        /// The guard of a consumer of `names` (the `ce-type`s subscribed to): reads the
        /// registry once and fails when a producer registered the channel but not one of
        /// `names`, or (policy `Refuse`) when the contract registered last for one of them is
        /// incompatible with the consumer's.
        pub(in crate::nats::consumer) async fn start<E: IntegrationEventSet>(
            context: &Context,
            spec: &ConsumerSpec,
            names: &[&'static str],
        ) -> Result<Self, StartError> {
            let mut own = Vec::new();
            for name in names {
                let Some(index) = E::NAMES.iter().position(|known| known == name) else {
                    continue;
                };
                let Some(contract) = E::CONTRACTS.get(index) else {
                    continue;
                };
                let schema = Schema::from_bytes(contract.schema).map_err(|err| {
                    StartError::InvalidContract {
                        event: (*name).to_owned(),
                        reason: err.to_string(),
                    }
                })?;
                own.push(Own {
                    ce_type: name,
                    subject: contract.subject(),
                    dataschema: contract.dataschema,
                    schema,
                });
            }
            let registry = if own.is_empty() {
                None
            } else {
                ContractRegistry::open_existing(context)
                    .await
                    .map_err(|source| StartError::Registry { source })?
            };
            let guard = Self {
                own,
                durable: spec.durable.clone(),
                policy: spec.policy.on_incompatible,
                context: context.clone(),
                registry: Mutex::new(registry.clone()),
                verdicts: Mutex::new(HashMap::new()),
            };
            if guard.own.is_empty() {
                return Ok(guard);
            }
            let Some(registry) = registry else {
                tracing::warn!(
                    bucket = crate::nats::registry::BUCKET,
                    "no contract registry on the server (no producer registered its contracts): \
                     messages with a contract other than the consumer's are judged once one exists"
                );
                return Ok(guard);
            };
            guard.check_registered::<E>(&registry).await?;
            for (index, own) in guard.own.iter().enumerate() {
                let current = registry
                    .current(&own.subject)
                    .await
                    .map_err(|source| StartError::Registry { source })?;
                let Some(current) = current else { continue };
                if current == own.dataschema {
                    continue;
                }
                let (verdict, until) = guard
                    .judge(index, &current)
                    .await
                    .map_err(|source| StartError::Registry { source })?;
                if let Verdict::Incompatible(error) = &verdict
                    && guard.policy == ContractPolicy::Refuse
                {
                    return Err(StartError::IncompatibleContract(error.clone()));
                }
                guard.remember(index, current, verdict, until);
            }
            Ok(guard)
        }

        /// Fails when producers registered the channel but none of them one of the events.
        async fn check_registered<E: IntegrationEventSet>(
            &self,
            registry: &ContractRegistry,
        ) -> Result<(), StartError> {
            let channel = E::CHANNEL;
            let registered = registry
                .channel_events(channel.subject)
                .await
                .map_err(|source| StartError::Registry { source })?;
            if registered.is_empty() {
                tracing::warn!(
                    channel = channel.name,
                    subject = channel.subject,
                    "no producer registered contracts on this channel: its events cannot be checked at start"
                );
                return Ok(());
            }
            let missing: Vec<String> = self
                .own
                .iter()
                .filter_map(|own| {
                    let token = E::subject_token(own.ce_type)?;
                    (!registered.iter().any(|event| event == token)).then(|| own.ce_type.to_owned())
                })
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(StartError::UnregisteredEvents {
                    channel: channel.name,
                    missing,
                    registered,
                })
            }
        }

        /// Whether the message may be handled (see [`Admission`]).
        pub(in crate::nats::consumer) async fn admit(&self, received: &Received) -> Admission {
            if self.own.is_empty() {
                return Admission::Handle;
            }
            let [ce_type, dataschema] =
                received.headers_named([headers::TYPE, headers::DATASCHEMA]);
            let Some(ce_type) = ce_type else {
                return Admission::Handle;
            };
            let Some(index) = self.own.iter().position(|own| own.ce_type == ce_type) else {
                return Admission::Handle;
            };
            // A message from before producers named their contract: nothing to compare.
            let Some(dataschema) = dataschema else {
                return Admission::Handle;
            };
            if dataschema == self.own[index].dataschema {
                return Admission::Handle;
            }
            let cached = self
                .lock_verdicts()
                .get(&(index, dataschema.to_owned()))
                .filter(|(_, until)| until.is_none_or(|until| Instant::now() < until))
                .map(|(verdict, _)| verdict.clone());
            let verdict = match cached {
                Some(verdict) => verdict,
                None => match self.judge(index, dataschema).await {
                    Ok((verdict, until)) => {
                        self.remember(index, dataschema.to_owned(), verdict.clone(), until);
                        verdict
                    }
                    Err(err) => {
                        return Admission::Retry(format!(
                            "cannot read the producer's contract {dataschema} from the registry: {}",
                            crate::error::ErrorChain(&err)
                        ));
                    }
                },
            };
            match (verdict, self.policy) {
                (Verdict::Compatible, _) | (Verdict::Incompatible(_), ContractPolicy::Warn) => {
                    Admission::Handle
                }
                (Verdict::Incompatible(error), ContractPolicy::Refuse) => Admission::Refuse(error),
                (Verdict::Incompatible(error), ContractPolicy::DeadLetter) => {
                    Admission::DeadLetter(error.to_string())
                }
            }
        }

        /// Judges the producer contract `dataschema` of the event of `own[index]`, with the
        /// instant until which a verdict on a contract the registry does not hold is kept
        /// ([`RECHECK_UNREGISTERED`]; `None`: for good); `Err` when the registry cannot be
        /// read now.
        async fn judge(
            &self,
            index: usize,
            dataschema: &str,
        ) -> Result<(Verdict, Option<Instant>), RegistryError> {
            let own = &self.own[index];
            let incompatible = |breaks: Vec<String>| {
                Verdict::Incompatible(IncompatibleContract {
                    event: own.ce_type.to_owned(),
                    durable: self.durable.clone(),
                    consumer: own.dataschema.to_owned(),
                    producer: dataschema.to_owned(),
                    breaks,
                })
            };
            let Ok(parsed) = dataschema.parse::<Dataschema>() else {
                return Ok((
                    incompatible(vec![
                        "the producer's `ce-dataschema` is not an eventmap contract".to_owned(),
                    ]),
                    None,
                ));
            };
            let recheck = Some(Instant::now() + RECHECK_UNREGISTERED);
            let Some(registry) = self.registry().await? else {
                return Ok((
                    incompatible(vec![
                        "the producer did not register it (no contract registry on the server)"
                            .to_owned(),
                    ]),
                    recheck,
                ));
            };
            let Some(schema) = registry.schema(&parsed.fingerprint).await? else {
                return Ok((
                    incompatible(vec![
                        "the producer did not register it in the contract registry".to_owned(),
                    ]),
                    recheck,
                ));
            };
            let breaks = compatibility(&own.schema, &schema);
            Ok((
                if breaks.is_empty() {
                    Verdict::Compatible
                } else {
                    incompatible(breaks.iter().map(ToString::to_string).collect())
                },
                None,
            ))
        }

        /// Caches `verdict` (until `until`, or for good) and logs it (once per producer
        /// contract, or per judgement of one the registry does not hold yet).
        fn remember(
            &self,
            index: usize,
            dataschema: String,
            verdict: Verdict,
            until: Option<Instant>,
        ) {
            let own = &self.own[index];
            match &verdict {
                Verdict::Compatible => tracing::info!(
                    event = own.ce_type,
                    consumer = own.dataschema,
                    producer = %dataschema,
                    "the producer's contract differs from the consumer's and is compatible"
                ),
                Verdict::Incompatible(error) => tracing::error!(
                    policy = ?self.policy,
                    %error,
                    "incompatible producer contract"
                ),
            }
            self.lock_verdicts()
                .insert((index, dataschema), (verdict, until));
        }

        /// The registry, opened now if it was absent so far.
        async fn registry(&self) -> Result<Option<ContractRegistry>, RegistryError> {
            let opened = self
                .registry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            if opened.is_some() {
                return Ok(opened);
            }
            let registry = ContractRegistry::open_existing(&self.context).await?;
            *self
                .registry
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = registry.clone();
            Ok(registry)
        }

        fn lock_verdicts(&self) -> std::sync::MutexGuard<'_, HashMap<(usize, String), Cached>> {
            self.verdicts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        }
    }
}
