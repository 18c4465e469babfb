//! In-process dispatch of domain events to handlers.
//!
//! The [`EventDispatcher`] keeps, per domain event name and per payload type, an ordered list
//! of handlers. Generated registration code declares, per domain event type, the names the
//! mapping table gives it ([`EventDispatcher::map_type`]) and subscribes one
//! [`IntegrationEventHandler`](crate::integration::IntegrationEventHandler) per row, by type
//! *and* name ([`EventDispatcher::subscribe_to_named`]): one payload type recorded under
//! several names (`PriceChanged` as `PriceIncreased` or `PriceDecreased`) is published only by
//! the rows of the name each instance carries, and an instance whose name has no row is an
//! error ([`UnmappedEventName`]), never published under another row's name. Applications may
//! add their own handlers.

mod handler;
mod router;
mod routing;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use tracing::Instrument;
use uuid::Uuid;

/// The boxed error of handlers, also at its former path (it lives in [`crate::error`]).
pub use crate::error::BoxError;
use crate::event::{AggregateEvent, DomainEvent};
use crate::integration::publish_row;
pub use handler::{EventHandler, FnHandler, handler_fn};
pub use router::{Dispatch, Route, dispatch_span, publish_routed, row_failed, unmapped_event_name};
use router::{handler_failed, unmapped, unmapped_type};
use routing::{Handlers, Only, Registered, TypeEntry, TypeIdHasher};

/// An event of a mapped type carried a name that the mapping table does not give that type
/// (see [`EventDispatcher::map_type`]): it was not published, and the dispatch stopped with
/// this error (the [`DispatchError::source`]).
///
/// A mapping table names every domain event it knows (a row per integration event, or
/// `internal`), so a name outside the table is a domain model and a table that disagree:
/// publishing it under another row's name would put wrong data on the wire, and skipping it
/// would lose it silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "domain event `{event_name}` (type `{type_name}`) has no row in the mapping table; the table maps this type only as {}",
    expected.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
)]
pub struct UnmappedEventName {
    /// The name the event carried ([`DomainEvent::event_name`]).
    pub event_name: String,
    /// The Rust type name of its payload.
    pub type_name: &'static str,
    /// The names the tables registered on the dispatcher map this type under (their rows, and
    /// their `internal` events of the type).
    pub expected: Vec<&'static str>,
}

/// A domain event whose payload type no mapping table of the dispatcher (or router) maps: it
/// was not published, and the dispatch stopped with this error (the
/// [`DispatchError::source`]).
///
/// A mapping table names every domain event of its service, with a row per integration event
/// or as `internal` when it stays inside the service (docs/mappings.md), so an event of a type
/// no table names is a domain model and a table that disagree: skipping it would lose it
/// silently. A dispatcher without any table ([`EventDispatcher::map_type`] never called: only
/// handlers of the application's own) still skips an event without handlers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "domain event `{event_name}` of aggregate `{aggregate_type}` has a type that no mapping table maps: it was not published; give it a row in the table, or list it as `internal` when it stays inside the service"
)]
pub struct UnmappedEventType {
    /// The name the event carried ([`DomainEvent::event_name`]).
    pub event_name: String,
    /// The aggregate that recorded it ([`AggregateEvent::aggregate_name`]).
    pub aggregate_type: String,
}

impl UnmappedEventType {
    /// The error for the domain event `event_name` recorded by an aggregate of
    /// `aggregate_type`.
    pub fn new(event_name: impl Into<String>, aggregate_type: impl Into<String>) -> Self {
        Self {
            event_name: event_name.into(),
            aggregate_type: aggregate_type.into(),
        }
    }
}

/// A handler failed while the dispatcher published a domain event.
#[derive(Debug, thiserror::Error)]
#[error("handler for domain event `{event_name}` ({event_id}) failed")]
pub struct DispatchError {
    /// Name of the domain event being handled.
    pub event_name: String,
    /// Id of the domain event being handled.
    pub event_id: Uuid,
    /// The handler's error.
    #[source]
    pub source: BoxError,
}

/// Routes domain events to the handlers subscribed to their name.
///
/// Handlers of one event run one after another, in registration order; events run in slice
/// order. Nothing runs concurrently, so a handler may rely on the effects of the previous one.
///
/// Finding the handlers of an event allocates nothing: one hash lookup by payload type, and
/// one by name only when some handler subscribed by name.
#[derive(Default)]
pub struct EventDispatcher {
    /// Handlers subscribed by domain event name, each with its registration sequence number.
    by_name: HashMap<String, Vec<Registered>>,
    /// Handlers subscribed by payload type (each with its registration sequence number and
    /// the one name it is restricted to, if any), and the names a mapped type may carry.
    by_type: HashMap<TypeId, TypeEntry, BuildHasherDefault<TypeIdHasher>>,
    /// Type names of the types subscribed to, for `Debug`.
    type_names: HashMap<TypeId, &'static str>,
    /// The `internal` domain event names of the tables registered, whatever their type
    /// ([`declare_internal`](Self::declare_internal)).
    internal: std::collections::HashSet<&'static str>,
    next: u64,
}

impl fmt::Debug for EventDispatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let by_name = self
            .by_name
            .iter()
            .map(|(name, handlers)| (name.clone(), handlers.len()));
        let by_type = self.by_type.iter().map(|(id, entry)| {
            let name = format!("type {}", self.type_names.get(id).copied().unwrap_or("?"));
            (name, entry.handlers.len())
        });
        let mut names: Vec<_> = by_name.chain(by_type).collect();
        names.sort_unstable();
        f.debug_struct("EventDispatcher")
            .field("handlers", &names)
            .finish()
    }
}
impl EventDispatcher {
    /// An empty dispatcher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `handler` for the domain event `event_name` (after the ones already there).
    pub fn subscribe(
        &mut self,
        event_name: &str,
        handler: impl EventHandler + 'static,
    ) -> &mut Self {
        self.subscribe_arc(event_name, Arc::new(handler))
    }

    /// Adds a shared `handler` for the domain event `event_name` (after the ones already
    /// there). The same handler may be subscribed to several names.
    pub fn subscribe_arc(&mut self, event_name: &str, handler: Arc<dyn EventHandler>) -> &mut Self {
        let sequence = self.sequence();
        self.by_name
            .entry(event_name.to_owned())
            .or_default()
            .push(Registered {
                sequence,
                only: Only::Any,
                handler,
            });
        self
    }

    /// Subscribes `handler` to every domain event whose payload is of type `T`, whatever
    /// [`DomainEvent::event_name`] returns (but see [`map_type`](Self::map_type)). Handlers
    /// subscribed by name and by type run together, in registration order.
    pub fn subscribe_to<T: DomainEvent>(
        &mut self,
        handler: impl EventHandler + 'static,
    ) -> &mut Self {
        self.push_typed::<T>(None, Arc::new(handler))
    }

    /// Subscribes `handler` to the domain events whose payload is of type `T` **and** whose
    /// name ([`AggregateEvent::name`]) is `event_name`: what generated registration code uses
    /// for each row of the mapping table, so that a payload type recorded under several names
    /// is converted only by the rows of the name an instance carries. Runs in registration
    /// order with the other handlers of the event.
    pub fn subscribe_to_named<T: DomainEvent>(
        &mut self,
        event_name: &'static str,
        handler: impl EventHandler + 'static,
    ) -> &mut Self {
        self.push_typed::<T>(Some(event_name), Arc::new(handler))
    }

    /// Declares `names` as domain events a mapping table keeps inside the service
    /// (`internal`): an event under one of these names whose type no table maps is not an
    /// error ([`UnmappedEventType`]) but an event without handlers, skipped. Generated
    /// registration declares every `internal` event of its table, so that the table need not
    /// name a Rust type for them.
    pub fn declare_internal(&mut self, names: &[&'static str]) -> &mut Self {
        self.internal.extend(names.iter().copied());
        self
    }

    /// Declares that events of type `T` are recorded only under `names` (the rows of `T` in
    /// a mapping table, and its `internal` events of `T`): dispatching an event of type `T`
    /// under another name then fails with [`UnmappedEventName`] before any of its handlers
    /// runs. Several tables may declare the same type; its names are then all of theirs.
    ///
    /// `registration` names the registration (generated code passes its module path and the
    /// type): returns `true` the first time for that `registration` and `T`, and `false`
    /// after, without changing anything. Generated registration subscribes the integration
    /// handlers of `T` only when it returns `true`, so registering the same table twice does
    /// not publish twice, while two tables mapping one type both publish.
    pub fn map_type<T: DomainEvent>(
        &mut self,
        registration: &'static str,
        names: &'static [&'static str],
    ) -> bool {
        self.type_names
            .insert(TypeId::of::<T>(), std::any::type_name::<T>());
        let entry = self.by_type.entry(TypeId::of::<T>()).or_default();
        if entry.registrations.contains(&registration) {
            return false;
        }
        entry.registrations.push(registration);
        // Names are only appended: the indices of `Only::Declared` stay valid.
        let declared = entry.names.get_or_insert_with(Vec::new);
        for name in names {
            if !declared.contains(name) {
                declared.push(name);
            }
        }
        // Handlers subscribed by name before the declaration are chosen by index from now on.
        for registered in &mut entry.handlers {
            if let Only::Name(name) = registered.only {
                registered.only = Only::of(name, entry.names.as_deref());
            }
        }
        true
    }

    /// Whether [`map_type`](Self::map_type) declared `T`.
    pub fn is_mapped<T: DomainEvent>(&self) -> bool {
        self.by_type
            .get(&TypeId::of::<T>())
            .is_some_and(|entry| entry.names.is_some())
    }

    fn push_typed<T: DomainEvent>(
        &mut self,
        only: Option<&'static str>,
        handler: Arc<dyn EventHandler>,
    ) -> &mut Self {
        self.type_names
            .insert(TypeId::of::<T>(), std::any::type_name::<T>());
        let sequence = self.sequence();
        let entry = self.by_type.entry(TypeId::of::<T>()).or_default();
        let only = only.map_or(Only::Any, |name| Only::of(name, entry.names.as_deref()));
        entry.handlers.push(Registered {
            sequence,
            only,
            handler,
        });
        self
    }

    /// The next registration sequence number.
    fn sequence(&mut self) -> u64 {
        let sequence = self.next;
        self.next += 1;
        sequence
    }

    /// Number of handlers subscribed by name to `event_name`.
    pub fn handler_count(&self, event_name: &str) -> usize {
        self.by_name.get(event_name).map_or(0, Vec::len)
    }

    /// Number of handlers subscribed by type to domain events of type `T`.
    pub fn handler_count_of<T: DomainEvent>(&self) -> usize {
        self.by_type
            .get(&TypeId::of::<T>())
            .map_or(0, |entry| entry.handlers.len())
    }

    /// The handlers of `event`, by name and by payload type, in registration order.
    ///
    /// # Errors
    /// [`UnmappedEventName`] when the event's type is mapped and its name is not one of the
    /// type's names.
    fn handlers_of<'a>(
        &'a self,
        event: &'a AggregateEvent,
    ) -> Result<Handlers<'a>, UnmappedEventName> {
        let payload: &dyn Any = event.payload();
        let mut declared = None;
        let by_type = match self.by_type.get(&payload.type_id()) {
            Some(entry) => {
                if let Some(names) = &entry.names {
                    declared = names.iter().position(|n| *n == event.name());
                }
                if let (Some(names), None) = (&entry.names, declared) {
                    return Err(UnmappedEventName {
                        event_name: event.name().to_owned(),
                        type_name: self
                            .type_names
                            .get(&payload.type_id())
                            .copied()
                            .unwrap_or("?"),
                        expected: names.clone(),
                    });
                }
                entry.handlers.as_slice()
            }
            None => &[][..],
        };
        let by_name = if self.by_name.is_empty() {
            &[][..]
        } else {
            self.by_name
                .get(event.name())
                .map_or(&[][..], Vec::as_slice)
        };
        Ok(Handlers {
            by_name,
            by_type,
            name: event.name(),
            declared,
        })
    }

    /// Runs the handlers of every event, events in order and each event's handlers (by name
    /// and by type together) in registration order. Events without handlers are skipped.
    ///
    /// # Errors
    ///
    /// Stops at the first failing handler and returns its error as a [`DispatchError`]; the
    /// remaining handlers and events are not run. An event of a mapped type whose name the
    /// table does not give that type ([`map_type`](Self::map_type)) fails the same way, with
    /// [`UnmappedEventName`] as source, before any of its handlers runs.
    pub async fn publish(&self, events: &[AggregateEvent]) -> Result<(), DispatchError> {
        for event in events {
            let handlers = self
                .handlers_of(event)
                .map_err(|error| unmapped(event, error))?;
            if handlers.by_name.is_empty() && handlers.by_type.is_empty() {
                let payload: &dyn Any = event.payload();
                let known = self.by_type.contains_key(&payload.type_id());
                let tables = !self.internal.is_empty()
                    || self.by_type.values().any(|entry| entry.names.is_some());
                if tables && !known && !self.internal.contains(event.name()) {
                    return Err(unmapped_type(event));
                }
                tracing::debug!(event_name = event.name(), "no handler for domain event");
                continue;
            }
            let span = dispatch_span(event);
            // Wrapped in `Instrumented` only when the span is enabled.
            if span.is_disabled() {
                run_handlers(event, handlers).await?;
            } else {
                run_handlers(event, handlers).instrument(span).await?;
            }
        }
        Ok(())
    }
}

/// Runs `handlers` on `event` one after the other; stops at the first failure.
async fn run_handlers(event: &AggregateEvent, handlers: Handlers<'_>) -> Result<(), DispatchError> {
    for (index, handler) in handlers.enumerate() {
        // Through the `dyn` handler itself: calling `handle` on the `Arc` would box a second
        // future (the `Arc<H>` impl's). Integration handlers run without a boxed future.
        let handler = handler.as_ref();
        let result = match handler.as_integration() {
            Some(integration) => publish_row(integration, event, &tracing::Span::none())
                .await
                .map_err(BoxError::from),
            None => handler.handle(event).await,
        };
        if let Err(source) = result {
            return Err(handler_failed(event, index, source));
        }
    }
    Ok(())
}
