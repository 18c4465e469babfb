//! [`EventRegistry`]: which Rust type each stored domain event name is, at which schema
//! version, and how older versions are upcast.

mod error;
mod finite;

use std::any::{Any, TypeId, type_name};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::BoxError;
use crate::event::DomainEvent;

pub use error::RegistryError;

/// Upper bound of upcasting steps for one payload (guards against a cycle of renames): past
/// it, loading fails with [`RegistryError::UpcastLoop`].
pub const MAX_UPCASTS: usize = 64;

/// A step that turns the JSON of a stored payload of one schema version into the next
/// version's JSON.
pub type Upcaster = Arc<dyn Fn(Value) -> Result<Value, BoxError> + Send + Sync>;

type Encode = fn(&dyn DomainEvent) -> Option<Result<Value, EncodeError>>;
type Decode = fn(Value) -> Result<Arc<dyn DomainEvent>, serde_json::Error>;

#[derive(Clone, Copy)]
struct Entry {
    name: &'static str,
    version: u32,
    type_name: &'static str,
    encode: Encode,
    decode: Decode,
}

/// A domain event payload as stored: its name, schema version and JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredPayload {
    /// Domain event name, e.g. `"OrderCreated"`.
    pub name: String,
    /// Schema version of `json` (1 for the first shape of an event).
    pub schema_version: u32,
    /// The payload.
    pub json: Value,
}

/// The domain event types a store can persist, by name and schema version, with the
/// upcasters that bring older stored versions to the current one.
///
/// Each type is registered once, under the name its [`DomainEvent::event_name`] returns and
/// its *current* schema version; payloads are stored as serde JSON. Every read of a stored
/// payload ([`decode`](Self::decode): loading and replaying an aggregate, reading a stream)
/// first applies the upcasters, step by step, from the stored version to the registered one.
///
/// ```
/// # use eventmap::postgres::EventRegistry;
/// # use eventmap::DomainEvent;
/// #[derive(Debug, serde::Serialize, serde::Deserialize)]
/// struct OrderCreated { customer_id: String, currency: String }
/// impl DomainEvent for OrderCreated {
///     fn event_name(&self) -> &'static str { "OrderCreated" }
/// }
///
/// let mut registry = EventRegistry::new();
/// // Version 2 added `currency`; version 1 payloads are read as EUR.
/// registry.register_version::<OrderCreated>("OrderCreated", 2)?;
/// registry.upcaster("OrderCreated", 1, |mut json| {
///     json["currency"] = "EUR".into();
///     Ok(json)
/// })?;
/// let old = serde_json::json!({ "customer_id": "c-1" });
/// let event = registry.decode("OrderCreated", 1, old)?;
/// let event = (&*event as &dyn std::any::Any).downcast_ref::<OrderCreated>().unwrap();
/// assert_eq!(event.currency, "EUR");
/// # Ok::<(), eventmap::postgres::RegistryError>(())
/// ```
#[derive(Clone, Default)]
pub struct EventRegistry {
    by_type: HashMap<TypeId, Entry>,
    by_name: HashMap<String, Entry>,
    upcasters: HashMap<(String, u32), Upcaster>,
}

impl fmt::Debug for EventRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut types: Vec<_> = self
            .by_name
            .values()
            .map(|e| format!("{} v{} = {}", e.name, e.version, e.type_name))
            .collect();
        types.sort_unstable();
        let mut upcasters: Vec<_> = self
            .upcasters
            .keys()
            .map(|(name, v)| format!("{name} v{v}->v{}", v + 1))
            .collect();
        upcasters.sort_unstable();
        f.debug_struct("EventRegistry")
            .field("types", &types)
            .field("upcasters", &upcasters)
            .finish()
    }
}

/// Why a payload could not be turned into JSON.
enum EncodeError {
    /// serde_json failed.
    Json(serde_json::Error),
    /// A value JSON as the store writes it cannot hold (path, value).
    Unwritable(String, finite::Unwritable),
}

fn encode<T: DomainEvent + Serialize>(
    event: &dyn DomainEvent,
) -> Option<Result<Value, EncodeError>> {
    let any: &dyn Any = event;
    any.downcast_ref::<T>().map(|payload| {
        if let Some((path, value)) = finite::first_unwritable(payload) {
            return Err(EncodeError::Unwritable(path, value));
        }
        serde_json::to_value(payload).map_err(EncodeError::Json)
    })
}

fn decode<T: DomainEvent + DeserializeOwned>(
    json: Value,
) -> Result<Arc<dyn DomainEvent>, serde_json::Error> {
    let event: T = serde_json::from_value(json)?;
    Ok(Arc::new(event))
}

impl EventRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `T` as the domain event `name` at schema version 1.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Registration`] when `name` or `T` is already registered.
    pub fn register<T>(&mut self, name: &'static str) -> Result<&mut Self, RegistryError>
    where
        T: DomainEvent + Serialize + DeserializeOwned,
    {
        self.register_version::<T>(name, 1)
    }

    /// Registers `T` as the domain event `name` at schema version `schema_version` (its
    /// current version: what new events are stored as, and what older stored versions are
    /// upcast to).
    ///
    /// # Errors
    ///
    /// [`RegistryError::Registration`] when `name` or `T` is already registered or
    /// `schema_version` is 0.
    pub fn register_version<T>(
        &mut self,
        name: &'static str,
        schema_version: u32,
    ) -> Result<&mut Self, RegistryError>
    where
        T: DomainEvent + Serialize + DeserializeOwned,
    {
        if schema_version == 0 {
            return Err(RegistryError::Registration(format!(
                "`{name}`: schema versions start at 1"
            )));
        }
        if let Some(existing) = self.by_name.get(name) {
            return Err(RegistryError::Registration(format!(
                "`{name}` is already registered (as {})",
                existing.type_name
            )));
        }
        if let Some(existing) = self.by_type.get(&TypeId::of::<T>()) {
            return Err(RegistryError::Registration(format!(
                "{} is already registered (as `{}`)",
                type_name::<T>(),
                existing.name
            )));
        }
        let entry = Entry {
            name,
            version: schema_version,
            type_name: type_name::<T>(),
            encode: encode::<T>,
            decode: decode::<T>,
        };
        self.by_type.insert(TypeId::of::<T>(), entry);
        self.by_name.insert(name.to_owned(), entry);
        Ok(self)
    }

    /// Adds the step that turns a stored `name` payload of version `from_version` into version
    /// `from_version + 1`. Steps chain: a version 1 payload of an event registered at version
    /// 3 goes through the 1 -> 2 and 2 -> 3 upcasters.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Registration`] when that step is already registered.
    pub fn upcaster(
        &mut self,
        name: &str,
        from_version: u32,
        step: impl Fn(Value) -> Result<Value, BoxError> + Send + Sync + 'static,
    ) -> Result<&mut Self, RegistryError> {
        let key = (name.to_owned(), from_version);
        if self.upcasters.contains_key(&key) {
            return Err(RegistryError::Registration(format!(
                "an upcaster for `{name}` version {from_version} is already registered"
            )));
        }
        self.upcasters.insert(key, Arc::new(step));
        Ok(self)
    }

    /// Whether a type is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// The payload of an event named `name` as it will be stored: the registered name, the
    /// current schema version and the JSON.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Unregistered`], [`RegistryError::NameMismatch`],
    /// [`RegistryError::NonFinite`] (a NaN or infinite float, which JSON cannot hold),
    /// [`RegistryError::IntegerOutOfRange`] (an `i128`/`u128` beyond 64 bits) or
    /// [`RegistryError::Serialize`].
    pub fn encode(
        &self,
        name: &str,
        payload: &dyn DomainEvent,
    ) -> Result<StoredPayload, RegistryError> {
        let any: &dyn Any = payload;
        let entry =
            self.by_type
                .get(&any.type_id())
                .ok_or_else(|| RegistryError::Unregistered {
                    name: name.to_owned(),
                })?;
        if entry.name != name {
            return Err(RegistryError::NameMismatch {
                type_name: entry.type_name,
                registered: entry.name,
                name: name.to_owned(),
            });
        }
        let json = (entry.encode)(payload)
            .ok_or_else(|| RegistryError::Unregistered {
                name: name.to_owned(),
            })?
            .map_err(|error| match error {
                EncodeError::Json(source) => RegistryError::Serialize {
                    name: name.to_owned(),
                    source,
                },
                EncodeError::Unwritable(field, finite::Unwritable::NonFinite(value)) => {
                    RegistryError::NonFinite {
                        name: name.to_owned(),
                        field,
                        value,
                    }
                }
                EncodeError::Unwritable(field, finite::Unwritable::WideInteger(value)) => {
                    RegistryError::IntegerOutOfRange {
                        name: name.to_owned(),
                        field,
                        value,
                    }
                }
            })?;
        Ok(StoredPayload {
            name: entry.name.to_owned(),
            schema_version: entry.version,
            json,
        })
    }

    /// Upcasts a stored payload to the registered version of its event: applies the
    /// upcasters from `schema_version` on until the version is the registered one.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Unknown`] (no registered type and no upcaster for a version met on
    /// the way, or a stored version newer than the registered one), [`RegistryError::Upcast`]
    /// or [`RegistryError::UpcastLoop`].
    pub fn upcast(&self, stored: StoredPayload) -> Result<StoredPayload, RegistryError> {
        let StoredPayload {
            name,
            mut schema_version,
            mut json,
        } = stored;
        for _ in 0..MAX_UPCASTS {
            if let Some(entry) = self.by_name.get(&name)
                && entry.version == schema_version
            {
                return Ok(StoredPayload {
                    name,
                    schema_version,
                    json,
                });
            }
            let Some(step) = self.upcasters.get(&(name.clone(), schema_version)) else {
                return Err(RegistryError::Unknown {
                    name,
                    schema_version,
                });
            };
            json = step(json).map_err(|source| RegistryError::Upcast {
                name: name.clone(),
                from_version: schema_version,
                source,
            })?;
            schema_version += 1;
        }
        Err(RegistryError::UpcastLoop { name })
    }

    /// Reads a stored payload: [`upcast`](Self::upcast), then deserializes the registered type.
    ///
    /// # Errors
    ///
    /// As [`upcast`](Self::upcast), or [`RegistryError::Deserialize`].
    pub fn decode(
        &self,
        name: &str,
        schema_version: u32,
        json: Value,
    ) -> Result<Arc<dyn DomainEvent>, RegistryError> {
        self.decode_stored(StoredPayload {
            name: name.to_owned(),
            schema_version,
            json,
        })
        .map(|(_, payload)| payload)
    }

    /// [`decode`](Self::decode), returning the current name of the event too (an upcaster
    /// chain may end at a renamed event).
    pub(crate) fn decode_stored(
        &self,
        stored: StoredPayload,
    ) -> Result<(String, Arc<dyn DomainEvent>), RegistryError> {
        let current = self.upcast(stored)?;
        let entry = self
            .by_name
            .get(&current.name)
            .ok_or_else(|| RegistryError::Unknown {
                name: current.name.clone(),
                schema_version: current.schema_version,
            })?;
        match (entry.decode)(current.json) {
            Ok(payload) => Ok((current.name, payload)),
            Err(source) => Err(RegistryError::Deserialize {
                name: current.name,
                schema_version: current.schema_version,
                type_name: entry.type_name,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
