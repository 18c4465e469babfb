//! Domain events and their envelopes.
//!
//! A *domain event* is a plain Rust value describing something that happened inside one
//! aggregate (`OrderCreated`). It is wrapped twice:
//!
//! * [`Event`] adds an id, the event name, free-form [`Metadata`] and the time it occurred;
//! * [`AggregateEvent`] adds the aggregate it belongs to (name, id, version).
//!
//! Both default to a type-erased payload (`dyn DomainEvent`), which is what dispatchers and
//! stores pass around; [`AggregateEvent::downcast`] recovers the concrete type.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::mem::ManuallyDrop;
use std::sync::Arc;
use std::time::SystemTime;

use uuid::Uuid;

/// A domain event: something that happened inside an aggregate.
///
/// Implementors are plain data types. The supertraits allow type erasure
/// (`Arc<dyn DomainEvent>`) and recovery of the concrete type through [`Any`].
pub trait DomainEvent: Any + Debug + Send + Sync {
    /// The domain event name, e.g. `"OrderCreated"` (key in mappings.yaml `events:`).
    ///
    /// The dispatcher routes events to handlers by this name.
    fn event_name(&self) -> &'static str;
}

/// Free-form string metadata carried by an [`Event`] (correlation ids, user ids, ...).
///
/// A `BTreeMap` so iteration order is deterministic. Metadata is *not* copied into integration
/// messages (see [`crate::message`]), except the entries named in [`metadata_keys`].
pub type Metadata = BTreeMap<String, String>;

/// Metadata keys with a meaning to eventmap: their values travel on integration messages as
/// CloudEvents extension attributes.
///
/// ```
/// use eventmap::event::metadata_keys;
/// # #[derive(Debug)] struct Paid;
/// # impl eventmap::DomainEvent for Paid { fn event_name(&self) -> &'static str { "Paid" } }
/// let event = eventmap::AggregateEvent::new("Order", "o-1", 2, Paid)
///     .with_metadata(metadata_keys::CORRELATION_ID, "checkout-42")
///     .with_metadata(metadata_keys::CAUSATION_ID, "cmd-7");
/// assert_eq!(event.metadata()[metadata_keys::CORRELATION_ID], "checkout-42");
/// ```
pub mod metadata_keys {
    /// `"correlation_id"`: the id shared by everything one operation caused (a request, a
    /// saga). Sent as `ce-correlationid`
    /// ([`headers::CORRELATION_ID`](crate::message::headers::CORRELATION_ID)).
    pub const CORRELATION_ID: &str = "correlation_id";
    /// `"causation_id"`: the id of the command or message that directly caused the event
    /// (for an event caused by a received integration event, its `ce-id`). Sent as
    /// `ce-causationid` ([`headers::CAUSATION_ID`](crate::message::headers::CAUSATION_ID)).
    pub const CAUSATION_ID: &str = "causation_id";
}

/// A domain event payload with its identity and occurrence time.
///
/// `P` defaults to the type-erased `dyn DomainEvent`.
#[derive(Debug)]
pub struct Event<P: ?Sized = dyn DomainEvent> {
    /// Unique id of this event occurrence (UUID v4 when created by [`AggregateEvent::new`]).
    pub id: Uuid,
    /// The domain event name, normally [`DomainEvent::event_name`] of the payload.
    pub name: String,
    /// The event payload, shared: cloning an event never clones the payload.
    pub payload: Arc<P>,
    /// Free-form metadata.
    pub metadata: Metadata,
    /// Wall-clock time at which the event occurred.
    pub occurred_at: SystemTime,
}

impl<P: ?Sized> Clone for Event<P> {
    fn clone(&self) -> Self {
        Self {
            id: self.id,
            name: self.name.clone(),
            payload: Arc::clone(&self.payload),
            metadata: self.metadata.clone(),
            occurred_at: self.occurred_at,
        }
    }
}

/// An [`Event`] that belongs to an aggregate instance.
///
/// `P` defaults to the type-erased `dyn DomainEvent`; that is the type dispatchers, handlers and
/// stores work with.
#[derive(Debug)]
pub struct AggregateEvent<P: ?Sized = dyn DomainEvent> {
    /// The wrapped event.
    pub event: Event<P>,
    /// Aggregate type name, e.g. `"Order"` (see [`crate::store::Aggregate::NAME`]).
    pub aggregate_name: String,
    /// Id of the aggregate instance the event belongs to.
    pub aggregate_id: String,
    /// Version of the aggregate *after* this event (the first event of an aggregate has
    /// version 1).
    pub aggregate_version: u64,
}

impl<P: ?Sized> Clone for AggregateEvent<P> {
    fn clone(&self) -> Self {
        Self {
            event: self.event.clone(),
            aggregate_name: self.aggregate_name.clone(),
            aggregate_id: self.aggregate_id.clone(),
            aggregate_version: self.aggregate_version,
        }
    }
}

impl<P: ?Sized> AggregateEvent<P> {
    /// Id of the event occurrence.
    pub fn id(&self) -> Uuid {
        self.event.id
    }

    /// Domain event name, e.g. `"OrderCreated"`.
    pub fn name(&self) -> &str {
        &self.event.name
    }

    /// The payload.
    pub fn payload(&self) -> &P {
        &self.event.payload
    }

    /// Time at which the event occurred.
    pub fn occurred_at(&self) -> SystemTime {
        self.event.occurred_at
    }

    /// Id of the aggregate instance.
    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
    }

    /// Aggregate type name, e.g. `"Order"`.
    pub fn aggregate_name(&self) -> &str {
        &self.aggregate_name
    }

    /// Version of the aggregate after this event (1 for the first event).
    pub fn aggregate_version(&self) -> u64 {
        self.aggregate_version
    }

    /// The event metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.event.metadata
    }

    /// Replaces the event id (builder style; useful for replays and deterministic tests).
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.event.id = id;
        self
    }

    /// Replaces the occurrence time (builder style).
    pub fn with_occurred_at(mut self, occurred_at: SystemTime) -> Self {
        self.event.occurred_at = occurred_at;
        self
    }

    /// Adds or replaces one metadata entry (builder style).
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.event.metadata.insert(key.into(), value.into());
        self
    }
}

impl AggregateEvent<dyn DomainEvent> {
    /// Recovers the concrete payload type.
    ///
    /// Returns `None` if the payload is not a `T`. The returned event shares the payload (an
    /// `Arc` clone, through trait upcasting `Arc<dyn DomainEvent>` ->
    /// `Arc<dyn Any + Send + Sync>`); only the envelope strings are cloned.
    pub fn downcast<T: DomainEvent>(&self) -> Option<AggregateEvent<T>> {
        let any: Arc<dyn Any + Send + Sync> = self.event.payload.clone();
        let payload = any.downcast::<T>().ok()?;
        Some(AggregateEvent {
            event: Event {
                id: self.event.id,
                name: self.event.name.clone(),
                payload,
                metadata: self.event.metadata.clone(),
                occurred_at: self.event.occurred_at,
            },
            aggregate_name: self.aggregate_name.clone(),
            aggregate_id: self.aggregate_id.clone(),
            aggregate_version: self.aggregate_version,
        })
    }

    /// Runs `f` on this event typed as `AggregateEvent<T>`, without cloning the envelope
    /// strings as [`downcast`](Self::downcast) does: `None` (and `f` not run) when the payload
    /// is not a `T`. The hot path of every generated integration handler.
    #[allow(unsafe_code)]
    pub(crate) fn with_downcast<T: DomainEvent, R>(
        &self,
        f: impl FnOnce(&AggregateEvent<T>) -> R,
    ) -> Option<R> {
        let any: &dyn Any = &*self.event.payload;
        if !any.is::<T>() {
            return None;
        }
        // SAFETY: the view is a bitwise copy of `self`'s fields, typed `T`, that is never
        // dropped (`ManuallyDrop`, also when `f` unwinds), so every resource it points to (the
        // strings' and the map's heap memory, the payload's `Arc` allocation and reference
        // count) stays owned by `self` alone and is released once, by `self`. The view lives
        // only inside this call, during which `self` is borrowed, so none of it is freed or
        // mutated while the view exists (`String` and `BTreeMap` have no interior mutability),
        // and `f` only gets a shared reference: it can read the view or clone it (a deep copy
        // of the strings, a counted clone of the `Arc`), not move out of it or change it.
        // The payload pointer is the data pointer of an `Arc<T>` unsize-coerced into
        // `Arc<dyn DomainEvent>` (the only way to build one), and its type was checked above,
        // so `Arc::from_raw` gets what `Arc::<T>::into_raw` would return.
        let view = unsafe {
            ManuallyDrop::new(AggregateEvent {
                event: Event {
                    id: self.event.id,
                    name: std::ptr::read(&self.event.name),
                    payload: Arc::from_raw(Arc::as_ptr(&self.event.payload).cast::<T>()),
                    metadata: std::ptr::read(&self.event.metadata),
                    occurred_at: self.event.occurred_at,
                },
                aggregate_name: std::ptr::read(&self.aggregate_name),
                aggregate_id: std::ptr::read(&self.aggregate_id),
                aggregate_version: self.aggregate_version,
            })
        };
        Some(f(&view))
    }

    /// Whether the payload is a `T`.
    pub fn is<T: DomainEvent>(&self) -> bool {
        let any: &dyn Any = &*self.event.payload;
        any.is::<T>()
    }

    /// The [`TypeId`](std::any::TypeId) of the payload's concrete type (one dynamic call):
    /// generated routers compare it with each mapped type's.
    pub fn payload_type_id(&self) -> std::any::TypeId {
        let any: &dyn Any = &*self.event.payload;
        any.type_id()
    }
}

impl<T: DomainEvent> AggregateEvent<T> {
    /// Wraps `payload` for the aggregate `aggregate_name`/`aggregate_id` at `aggregate_version`.
    ///
    /// The event gets a fresh UUID v4 id, the name [`DomainEvent::event_name`], empty metadata
    /// and the current time as `occurred_at`.
    pub fn new(
        aggregate_name: impl Into<String>,
        aggregate_id: impl Into<String>,
        aggregate_version: u64,
        payload: T,
    ) -> Self {
        Self {
            event: Event {
                id: Uuid::new_v4(),
                name: payload.event_name().to_owned(),
                payload: Arc::new(payload),
                metadata: Metadata::new(),
                occurred_at: SystemTime::now(),
            },
            aggregate_name: aggregate_name.into(),
            aggregate_id: aggregate_id.into(),
            aggregate_version,
        }
    }

    /// Erases the payload type (`AggregateEvent<T>` -> `AggregateEvent<dyn DomainEvent>`).
    pub fn into_dyn(self) -> AggregateEvent {
        let payload: Arc<dyn DomainEvent> = self.event.payload;
        AggregateEvent {
            event: Event {
                id: self.event.id,
                name: self.event.name,
                payload,
                metadata: self.event.metadata,
                occurred_at: self.event.occurred_at,
            },
            aggregate_name: self.aggregate_name,
            aggregate_id: self.aggregate_id,
            aggregate_version: self.aggregate_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct OrderCreated {
        customer: String,
    }
    impl DomainEvent for OrderCreated {
        fn event_name(&self) -> &'static str {
            "OrderCreated"
        }
    }

    #[derive(Debug)]
    struct OrderCanceled;
    impl DomainEvent for OrderCanceled {
        fn event_name(&self) -> &'static str {
            "OrderCanceled"
        }
    }

    #[test]
    fn new_fills_envelope_and_downcast_round_trips() {
        let before = SystemTime::now();
        let typed = AggregateEvent::new(
            "Order",
            "order-1",
            3,
            OrderCreated {
                customer: "c-9".into(),
            },
        )
        .with_metadata("correlation", "abc");
        assert_eq!(typed.name(), "OrderCreated");
        assert_eq!(typed.aggregate_name(), "Order");
        assert_eq!(typed.aggregate_id(), "order-1");
        assert_eq!(typed.aggregate_version(), 3);
        assert_eq!(typed.id().get_version_num(), 4);
        assert!(typed.occurred_at() >= before);
        assert_eq!(
            typed.metadata().get("correlation").map(String::as_str),
            Some("abc")
        );

        let id = typed.id();
        let erased = typed.into_dyn();
        assert!(erased.is::<OrderCreated>());
        assert!(!erased.is::<OrderCanceled>());
        assert!(erased.downcast::<OrderCanceled>().is_none());
        let back = erased
            .downcast::<OrderCreated>()
            .expect("payload is OrderCreated");
        assert_eq!(back.id(), id);
        assert_eq!(back.payload().customer, "c-9");
        assert_eq!(back.aggregate_version(), 3);
        // The payload is shared, not cloned.
        assert!(Arc::ptr_eq(
            &back.event.payload,
            &erased.downcast::<OrderCreated>().unwrap().event.payload
        ));
    }

    #[test]
    fn with_downcast_sees_the_envelope_and_releases_the_payload() {
        let erased = AggregateEvent::new(
            "Order",
            "order-1",
            3,
            OrderCreated {
                customer: "c-9".into(),
            },
        )
        .with_metadata("correlation", "abc")
        .into_dyn();
        let seen = erased
            .with_downcast::<OrderCreated, _>(|typed| {
                assert_eq!(typed.aggregate_version(), 3);
                assert_eq!(typed.metadata().len(), 1);
                // A clone of the view is a deep copy that outlives it.
                typed.clone()
            })
            .expect("payload is OrderCreated");
        assert_eq!(seen.name(), "OrderCreated");
        assert_eq!(seen.aggregate_name(), "Order");
        assert_eq!(seen.aggregate_id(), "order-1");
        assert_eq!(seen.id(), erased.id());
        assert_eq!(seen.payload().customer, "c-9");
        assert_eq!(
            seen.metadata().get("correlation").map(String::as_str),
            Some("abc")
        );
        assert_eq!(
            Arc::strong_count(&erased.event.payload),
            2,
            "the clone's payload"
        );
        // Cloning the view's payload counts on the event's own allocation.
        let payload = erased
            .with_downcast::<OrderCreated, _>(|typed| Arc::clone(&typed.event.payload))
            .expect("payload is OrderCreated");
        assert!(std::ptr::addr_eq(
            Arc::as_ptr(&payload),
            Arc::as_ptr(&erased.event.payload)
        ));
        assert_eq!(Arc::strong_count(&erased.event.payload), 3);
        drop(payload);
        drop(seen);
        assert_eq!(Arc::strong_count(&erased.event.payload), 1);
        assert!(erased.with_downcast::<OrderCanceled, _>(|_| ()).is_none());
        assert_eq!(Arc::strong_count(&erased.event.payload), 1);

        // A panic inside releases the view's payload and leaves the event intact.
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            erased.with_downcast::<OrderCreated, ()>(|_| panic!("converter panicked"))
        }));
        assert!(unwound.is_err());
        assert_eq!(Arc::strong_count(&erased.event.payload), 1);
        assert_eq!(erased.aggregate_id(), "order-1");
        assert_eq!(erased.name(), "OrderCreated");
    }

    #[test]
    fn clone_shares_payload() {
        let event = AggregateEvent::new("Order", "o", 1, OrderCanceled).into_dyn();
        let copy = event.clone();
        assert!(Arc::ptr_eq(&event.event.payload, &copy.event.payload));
        assert_eq!(copy.id(), event.id());
    }
}
