//! [`ContractRegistry`] (feature `contracts`): the contracts producers publish, kept on NATS
//! itself in a JetStream key-value bucket, [`BUCKET`].
//!
//! Keys (NATS KV keys: letters, digits, `-`, `_`, `=`, `/`, `.`; the layout is
//! `eventmap_contract::registry`'s, shared with `eventmap check --against-registry`):
//!
//! * `schema.<fingerprint>`: the contract (an encoded `eventmap_contract::Schema`), written
//!   once (`create`: a second producer with the same contract writes nothing);
//! * `event.<subject>`: the `dataschema` the last producer that registered publishes the
//!   event on `<subject>` with; a new contract is a new revision, earlier ones stay in the
//!   bucket's history ([`HISTORY`] revisions per key);
//! * `channel.<channel subject>`: the integration events registered on the channel, sorted,
//!   one per line (the union of what every producer of the channel registered).
//!
//! The bucket uses file storage: it survives a server restart.

use std::collections::BTreeSet;

use async_nats::jetstream::Context;
use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::context::GetStreamErrorKind;
use async_nats::jetstream::kv::{self, CreateErrorKind, Store};
use async_nats::jetstream::stream::StorageType;
use bytes::Bytes;
use eventmap_contract::{Dataschema, Fingerprint, Schema, registry};

use crate::contract::Contract;
use crate::error::BoxError;

pub use eventmap_contract::registry::{BUCKET, HISTORY};

/// Reading or writing the contract registry failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The bucket could not be created or opened.
    #[error("cannot open the contract registry (key-value bucket `{BUCKET}`)")]
    Open {
        /// The server's answer.
        #[source]
        source: BoxError,
    },
    /// A key could not be read or written.
    #[error("contract registry: cannot {action} `{key}`")]
    Key {
        /// `read` or `write`.
        action: &'static str,
        /// The key.
        key: String,
        /// The server's answer.
        #[source]
        source: BoxError,
    },
    /// A contract given to [`ContractRegistry::register`] is not what the generator writes.
    #[error("the contract of `{event}` is invalid: {reason}")]
    InvalidContract {
        /// The integration event.
        event: String,
        /// Why.
        reason: String,
    },
    /// A subject cannot be part of a key-value key.
    #[error(
        "the subject `{subject}` cannot be a contract registry key (letters, digits, `-`, `_`, `=`, `/` and `.` only)"
    )]
    InvalidSubject {
        /// The subject.
        subject: String,
    },
    /// A stored value is not what a producer writes.
    #[error("contract registry: `{key}` holds an invalid value: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// The contract registry: the contracts producers publish, in the JetStream key-value bucket
/// [`BUCKET`] (see the [module documentation](self) for the keys).
///
/// ```no_run
/// # async fn demo(jetstream: eventmap::nats::async_nats::jetstream::Context,
/// #     contracts: &[eventmap::Contract]) -> Result<(), eventmap::BoxError> {
/// // At a producer's start, before it publishes (the generated `contracts::ALL`):
/// let registry = eventmap::nats::ContractRegistry::open(&jetstream).await?;
/// registry.register(contracts).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ContractRegistry {
    store: Store,
}

impl ContractRegistry {
    /// Opens the bucket, creating it when absent (file storage, [`HISTORY`] revisions per
    /// key, one replica).
    ///
    /// # Errors
    ///
    /// [`RegistryError::Open`].
    pub async fn open(context: &Context) -> Result<Self, RegistryError> {
        if let Some(registry) = Self::open_existing(context).await? {
            return Ok(registry);
        }
        let config = kv::Config {
            bucket: BUCKET.to_owned(),
            description: "eventmap contract registry: the contracts producers publish".to_owned(),
            history: HISTORY,
            storage: StorageType::File,
            num_replicas: 1,
            ..kv::Config::default()
        };
        match context.create_key_value(config).await {
            Ok(store) => Ok(Self { store }),
            // Created meanwhile by another process.
            Err(create) => match Self::open_existing(context).await? {
                Some(registry) => Ok(registry),
                None => Err(RegistryError::Open {
                    source: Box::new(create),
                }),
            },
        }
    }

    /// Opens the bucket if it exists; `None` when no producer ever registered.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Open`] when the server cannot be asked (or refuses).
    pub async fn open_existing(context: &Context) -> Result<Option<Self>, RegistryError> {
        match context.get_stream(format!("KV_{BUCKET}")).await {
            Ok(_) => {}
            Err(err) if matches!(err.kind(), GetStreamErrorKind::JetStream(js) if js.error_code() == ErrorCode::STREAM_NOT_FOUND) =>
            {
                return Ok(None);
            }
            Err(err) => {
                return Err(RegistryError::Open {
                    source: Box::new(err),
                });
            }
        }
        let store = context
            .get_key_value(BUCKET)
            .await
            .map_err(|err| RegistryError::Open {
                source: Box::new(err),
            })?;
        Ok(Some(Self { store }))
    }

    /// Registers `contracts` (a producer's, at its start, before it publishes): each schema
    /// under its fingerprint (written once), each event's current `dataschema` (a new
    /// revision only when it changed) and each channel's events. Idempotent.
    ///
    /// # Errors
    ///
    /// [`RegistryError::InvalidContract`] when a contract's schema does not decode or does
    /// not hash to its `dataschema`; [`RegistryError::InvalidSubject`];
    /// [`RegistryError::Key`] when the server does not store a key.
    pub async fn register(&self, contracts: &[Contract]) -> Result<(), RegistryError> {
        let mut channels: Vec<(&str, BTreeSet<&str>)> = Vec::new();
        for contract in contracts {
            let dataschema = checked(contract)?;
            let schema_key = registry::schema_key(&dataschema.fingerprint);
            match self
                .store
                .create(&schema_key, Bytes::from_static(contract.schema))
                .await
            {
                Ok(_) => {}
                Err(err) if err.kind() == CreateErrorKind::AlreadyExists => {}
                Err(err) => return Err(write_error(schema_key, err)),
            }
            let event_key = registry::event_key(&contract.subject())?;
            if self.read(&event_key).await?.as_deref() != Some(contract.dataschema.as_bytes()) {
                self.store
                    .put(
                        &event_key,
                        Bytes::from_static(contract.dataschema.as_bytes()),
                    )
                    .await
                    .map_err(|err| write_error(event_key.clone(), err))?;
            }
            match channels
                .iter_mut()
                .find(|(subject, _)| *subject == contract.channel.subject)
            {
                Some((_, events)) => {
                    events.insert(contract.event);
                }
                None => channels.push((contract.channel.subject, BTreeSet::from([contract.event]))),
            }
        }
        for (subject, events) in channels {
            let key = registry::channel_key(subject)?;
            let mut all: BTreeSet<String> =
                self.channel_events(subject).await?.into_iter().collect();
            let before = all.len();
            all.extend(events.iter().map(|event| (*event).to_owned()));
            if all.len() != before || before == 0 {
                let value = registry::channel_value(all);
                self.store
                    .put(&key, Bytes::from(value))
                    .await
                    .map_err(|err| write_error(key.clone(), err))?;
            }
        }
        tracing::info!(contracts = contracts.len(), "contracts registered");
        Ok(())
    }

    /// The `dataschema` registered last for the event published on `subject`; `None` when
    /// no producer registered it.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Key`], [`RegistryError::InvalidSubject`],
    /// [`RegistryError::InvalidValue`].
    pub async fn current(&self, subject: &str) -> Result<Option<String>, RegistryError> {
        let key = registry::event_key(subject)?;
        self.read(&key)
            .await?
            .map(|value| {
                String::from_utf8(value.to_vec()).map_err(|_| RegistryError::InvalidValue {
                    key: key.clone(),
                    reason: "not UTF-8".to_owned(),
                })
            })
            .transpose()
    }

    /// The events registered on the channel whose subject is `channel_subject`; empty when
    /// no producer registered the channel.
    ///
    /// # Errors
    ///
    /// As [`current`](Self::current).
    pub async fn channel_events(
        &self,
        channel_subject: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let key = registry::channel_key(channel_subject)?;
        Ok(self
            .read(&key)
            .await?
            .map(|value| registry::channel_events(&value))
            .unwrap_or_default())
    }

    /// The contract registered under `fingerprint`; `None` when none is.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Key`]; [`RegistryError::InvalidValue`] when the value does not
    /// decode or does not hash to `fingerprint`.
    pub async fn schema(&self, fingerprint: &Fingerprint) -> Result<Option<Schema>, RegistryError> {
        let key = registry::schema_key(fingerprint);
        let Some(value) = self.read(&key).await? else {
            return Ok(None);
        };
        let schema = Schema::from_bytes(&value).map_err(|err| RegistryError::InvalidValue {
            key: key.clone(),
            reason: err.to_string(),
        })?;
        if schema.fingerprint() != *fingerprint {
            return Err(RegistryError::InvalidValue {
                key,
                reason: format!("the contract's fingerprint is {}", schema.fingerprint()),
            });
        }
        Ok(Some(schema))
    }

    /// The underlying key-value store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    async fn read(&self, key: &str) -> Result<Option<Bytes>, RegistryError> {
        self.store.get(key).await.map_err(|err| RegistryError::Key {
            action: "read",
            key: key.to_owned(),
            source: Box::new(err),
        })
    }
}

/// The contract's `dataschema`, checked against its schema.
fn checked(contract: &Contract) -> Result<Dataschema, RegistryError> {
    let invalid = |reason: String| RegistryError::InvalidContract {
        event: contract.event.to_owned(),
        reason,
    };
    let dataschema: Dataschema = contract
        .dataschema
        .parse()
        .map_err(|err: eventmap_contract::DataschemaError| invalid(err.to_string()))?;
    let schema = Schema::from_bytes(contract.schema).map_err(|err| invalid(err.to_string()))?;
    if schema.fingerprint() != dataschema.fingerprint || schema.root != dataschema.message {
        return Err(invalid(format!(
            "its schema is `{}`, not `{}`",
            Dataschema::of(&schema),
            contract.dataschema
        )));
    }
    Ok(dataschema)
}

impl From<registry::InvalidSubject> for RegistryError {
    fn from(err: registry::InvalidSubject) -> Self {
        RegistryError::InvalidSubject {
            subject: err.subject,
        }
    }
}

fn write_error(key: String, err: impl std::error::Error + Send + Sync + 'static) -> RegistryError {
    RegistryError::Key {
        action: "write",
        key,
        source: Box::new(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::ChannelSpec;

    const CHANNEL: ChannelSpec = ChannelSpec::new("invoice", "billing.invoice", "BILLING");

    #[test]
    fn a_contract_must_hash_to_its_dataschema() {
        let schema = Schema {
            root: "billing.v1.Issued".into(),
            ..Schema::default()
        };
        let bytes: &'static [u8] = Box::leak(schema.to_bytes().into_boxed_slice());
        let dataschema: &'static str =
            Box::leak(Dataschema::of(&schema).to_string().into_boxed_str());
        let checked_ok = checked(&Contract::new(CHANNEL, "IssuedEvent", dataschema, bytes));
        assert_eq!(checked_ok.unwrap(), Dataschema::of(&schema));
        for wrong in [
            "eventmap:billing.v1.Issued#00000000000000000000000000000000",
            "not a dataschema",
        ] {
            let err = checked(&Contract::new(CHANNEL, "IssuedEvent", wrong, bytes)).unwrap_err();
            assert!(
                matches!(&err, RegistryError::InvalidContract { event, .. } if event == "IssuedEvent"),
                "{err:?}"
            );
        }
        let garbage = checked(&Contract::new(
            CHANNEL,
            "IssuedEvent",
            dataschema,
            &[0xff, 0xff],
        ));
        assert!(garbage.is_err());
    }
}
