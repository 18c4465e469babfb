//! Dispatcher ordering and errors, in-memory store concurrency, dispatching middleware.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use eventmap::dispatcher::handler_fn;
use eventmap::event::metadata_keys;
use eventmap::{
    Aggregate, AggregateEvent, AggregateRoot, AggregateStore, BoxError, DispatchingStore,
    EventDispatcher, EventHandler, InMemoryPublisher, InMemoryStore, IntegrationEventHandler,
    StoreError,
};

type Log = Arc<Mutex<Vec<String>>>;

struct Recorder {
    label: &'static str,
    log: Log,
    fail: bool,
}

#[async_trait::async_trait]
impl EventHandler for Recorder {
    async fn handle(&self, event: &AggregateEvent) -> Result<(), BoxError> {
        self.log.lock().unwrap().push(format!(
            "{}:{}:{}",
            self.label,
            event.name(),
            event.aggregate_version()
        ));
        if self.fail {
            Err(format!("{} refused", self.label).into())
        } else {
            Ok(())
        }
    }
}

fn recorder(label: &'static str, log: &Log, fail: bool) -> Recorder {
    Recorder {
        label,
        log: log.clone(),
        fail,
    }
}

#[derive(Debug, Clone)]
struct Order {
    root: AggregateRoot,
    canceled: bool,
}

impl Aggregate for Order {
    const NAME: &'static str = "Order";
    fn root(&self) -> &AggregateRoot {
        &self.root
    }
    fn root_mut(&mut self) -> &mut AggregateRoot {
        &mut self.root
    }
}

impl Order {
    fn place(id: &str, customer: &str) -> Self {
        let mut order = Self {
            root: AggregateRoot::new(id),
            canceled: false,
        };
        order.root.record(
            Self::NAME,
            OrderCreated {
                customer_id: customer.into(),
                quantity: 1,
            },
        );
        order
    }

    fn cancel(&mut self, reason: &str) {
        self.canceled = true;
        self.root.record(
            Self::NAME,
            OrderCanceled {
                reason: reason.into(),
            },
        );
    }
}

/// Subscribes on `dispatcher` the integration handler that publishes `OrderCreatedEvent` to
/// `publisher`.
fn publish_created(dispatcher: &mut EventDispatcher, publisher: &InMemoryPublisher) {
    dispatcher.subscribe(
        "OrderCreated",
        IntegrationEventHandler::new(
            Arc::new(publisher.clone()),
            ORDER,
            "OrderCreatedEvent",
            SOURCE,
            convert_created,
        ),
    );
}

#[tokio::test]
async fn dispatcher_runs_handlers_in_order_and_stops_at_first_error() {
    let log: Log = Arc::default();
    let mut dispatcher = EventDispatcher::new();
    dispatcher
        .subscribe("OrderCreated", recorder("first", &log, false))
        .subscribe("OrderCreated", recorder("second", &log, false))
        .subscribe("OrderCanceled", recorder("cancel", &log, false));
    let shared: Arc<dyn EventHandler> = Arc::new(recorder("shared", &log, false));
    dispatcher.subscribe_arc("OrderCreated", shared.clone());
    dispatcher.subscribe_arc("OrderCanceled", shared);
    assert_eq!(dispatcher.handler_count("OrderCreated"), 3);
    assert_eq!(dispatcher.handler_count("OrderCanceled"), 2);
    assert_eq!(dispatcher.handler_count("OrderShipped"), 0);

    let mut order = Order::place("o-1", "c-1");
    order.cancel("changed mind");
    let events = order.root_mut().take_pending();
    dispatcher.publish(&events).await.unwrap();
    assert_eq!(
        *log.lock().unwrap(),
        [
            "first:OrderCreated:1",
            "second:OrderCreated:1",
            "shared:OrderCreated:1",
            "cancel:OrderCanceled:2",
            "shared:OrderCanceled:2",
        ]
    );

    // A failing handler stops everything after it.
    log.lock().unwrap().clear();
    let mut failing = EventDispatcher::new();
    failing
        .subscribe("OrderCreated", recorder("ok", &log, false))
        .subscribe("OrderCreated", recorder("broken", &log, true))
        .subscribe("OrderCreated", recorder("never", &log, false))
        .subscribe("OrderCanceled", recorder("never-either", &log, false));
    let err = failing.publish(&events).await.unwrap_err();
    assert_eq!(err.event_name, "OrderCreated");
    assert_eq!(err.event_id, events[0].id());
    assert_eq!(err.source.to_string(), "broken refused");
    // The cause is the source, not part of the summary: a chain printer shows it once.
    assert_eq!(
        err.to_string(),
        format!(
            "handler for domain event `OrderCreated` ({}) failed",
            events[0].id()
        )
    );
    assert_eq!(
        eventmap::error::error_chain(&err),
        format!(
            "handler for domain event `OrderCreated` ({}) failed: broken refused",
            events[0].id()
        )
    );
    assert_eq!(
        *log.lock().unwrap(),
        ["ok:OrderCreated:1", "broken:OrderCreated:1"]
    );

    // Closures as handlers.
    let calls = Arc::new(Mutex::new(0));
    let mut with_closure = EventDispatcher::new();
    let counter = calls.clone();
    with_closure.subscribe(
        "OrderCanceled",
        handler_fn(move |event| {
            let counter = counter.clone();
            async move {
                assert_eq!(
                    event.downcast::<OrderCanceled>().unwrap().payload().reason,
                    "changed mind"
                );
                *counter.lock().unwrap() += 1;
                Ok(())
            }
        }),
    );
    with_closure.publish(&events).await.unwrap();
    assert_eq!(*calls.lock().unwrap(), 1);
}

#[tokio::test]
async fn in_memory_store_detects_conflicts() {
    let store = InMemoryStore::<Order>::new();
    let err = store.load("missing").await.unwrap_err();
    assert!(matches!(&err, StoreError::NotFound { aggregate: "Order", id } if id == "missing"));

    let mut order = Order::place("o-1", "c-1");
    assert_eq!(
        (order.root().version(), order.root().stored_version()),
        (1, 0)
    );
    let saved = store.save(&mut order).await.unwrap();
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0].name(), "OrderCreated");
    assert_eq!(saved[0].aggregate_name(), "Order");
    assert_eq!(saved[0].aggregate_id(), "o-1");
    assert_eq!(saved[0].aggregate_version(), 1);
    assert_eq!(
        (order.root().version(), order.root().stored_version()),
        (1, 1)
    );
    assert!(order.root().pending().is_empty());

    let mut first = store.load("o-1").await.unwrap();
    let mut second = store.load("o-1").await.unwrap();
    first.cancel("first");
    let saved = store.save(&mut first).await.unwrap();
    assert_eq!(saved[0].aggregate_version(), 2);

    second.cancel("second");
    let err = store.save(&mut second).await.unwrap_err();
    match &err {
        StoreError::Conflict {
            aggregate,
            id,
            expected,
            actual,
        } => {
            assert_eq!(
                (*aggregate, id.as_str(), *expected, *actual),
                ("Order", "o-1", 1, 2)
            );
        }
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(
        second.root().pending().len(),
        1,
        "a rejected save leaves the aggregate unchanged"
    );
    assert_eq!(store.load("o-1").await.unwrap().root().version(), 2);

    // A second brand-new aggregate with an existing id conflicts too.
    let mut duplicate = Order::place("o-1", "c-2");
    assert!(matches!(
        store.save(&mut duplicate).await,
        Err(StoreError::Conflict {
            expected: 0,
            actual: 2,
            ..
        })
    ));
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn dispatching_store_dispatches_only_after_a_successful_save() {
    let log: Log = Arc::default();
    let publisher = InMemoryPublisher::new();
    let mut dispatcher = EventDispatcher::new();
    dispatcher.subscribe("OrderCreated", recorder("audit", &log, false));
    publish_created(&mut dispatcher, &publisher);
    dispatcher.subscribe(
        "OrderCanceled",
        IntegrationEventHandler::new(
            Arc::new(publisher.clone()),
            ORDER,
            "OrderCanceledEvent",
            SOURCE,
            convert_canceled,
        ),
    );
    let inner = InMemoryStore::<Order>::new();
    let store = DispatchingStore::new(inner.clone(), Arc::new(dispatcher));

    let mut order = Order::place("o-1", "c-1");
    let mut stale = order.clone();
    let saved = store.save(&mut order).await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["audit:OrderCreated:1"]);
    let published = publisher.messages();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].name, "OrderCreatedEvent");
    assert_eq!(
        published[0].id,
        eventmap::integration_event_id(saved[0].id(), "OrderCreatedEvent")
    );
    assert_eq!(published[0].header("ce-aggregateversion"), Some("1"));

    // A conflicting save dispatches nothing.
    stale.cancel("stale");
    assert!(matches!(
        store.save(&mut stale).await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(log.lock().unwrap().len(), 1);
    assert_eq!(publisher.len(), 1);

    // Loaded through the middleware, changed, saved: the cancel event is published.
    let mut loaded = store.load("o-1").await.unwrap();
    loaded.cancel("changed mind");
    store.save(&mut loaded).await.unwrap();
    let names: Vec<_> = publisher.messages().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["OrderCreatedEvent", "OrderCanceledEvent"]);

    // A failing handler after commit: the save stays committed (at-most-once), the error is
    // reported as Dispatch.
    let mut failing = EventDispatcher::new();
    failing.subscribe("OrderCreated", recorder("broken", &log, true));
    let failing_store = DispatchingStore::new(inner.clone(), Arc::new(failing));
    let mut other = Order::place("o-2", "c-2");
    let err = failing_store.save(&mut other).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Dispatch(d) if d.event_name == "OrderCreated"),
        "{err:?}"
    );
    assert_eq!(inner.load("o-2").await.unwrap().root().version(), 1);
}

#[tokio::test]
async fn dispatching_store_refuses_before_saving_an_event_it_could_never_publish() {
    let publisher = InMemoryPublisher::new();
    let mut dispatcher = EventDispatcher::new();
    publish_created(&mut dispatcher, &publisher);
    let inner = InMemoryStore::<Order>::new();
    let store = DispatchingStore::new(inner.clone(), Arc::new(dispatcher));
    let created = || OrderCreated {
        customer_id: "c-1".into(),
        quantity: 1,
    };
    let with =
        |key: &str, value: &str| eventmap::Metadata::from([(key.to_owned(), value.to_owned())]);
    // A correlation id, a causation id and an aggregate id with a line break: each travels as
    // a NATS header, so none could ever be published. Nothing is saved, nothing dispatched.
    for (id, metadata, shown) in [
        (
            "o-1",
            with(metadata_keys::CORRELATION_ID, "req-1\r\nX-Evil: 1"),
            "correlation_id",
        ),
        (
            "o-1",
            with(metadata_keys::CAUSATION_ID, "cmd-1\n"),
            "causation_id",
        ),
        ("o-\n2", eventmap::Metadata::new(), "aggregate id"),
    ] {
        let mut order = Order {
            root: AggregateRoot::new(id),
            canceled: false,
        };
        order
            .root
            .record_with_metadata(Order::NAME, created(), metadata);
        let err = store.save(&mut order).await.expect_err("refused");
        let StoreError::InvalidEvent {
            aggregate, reason, ..
        } = &err
        else {
            panic!("{err:?}");
        };
        assert_eq!(*aggregate, "Order");
        assert!(
            reason.contains(shown) && reason.contains("OrderCreated"),
            "{reason}"
        );
        assert!(
            matches!(inner.load(id).await, Err(StoreError::NotFound { .. })),
            "{id:?} was saved"
        );
        assert_eq!(order.root().pending().len(), 1, "the event stays pending");
    }
    assert_eq!(publisher.len(), 0);

    // The same ids without the line break save and publish.
    let mut order = Order {
        root: AggregateRoot::new("o-1"),
        canceled: false,
    };
    order.root.record_with_metadata(
        Order::NAME,
        created(),
        with(metadata_keys::CORRELATION_ID, "req-1"),
    );
    store.save(&mut order).await.expect("saved");
    assert_eq!(
        publisher.messages()[0].header("ce-correlationid"),
        Some("req-1")
    );
}

/// A domain event whose `event_name` does not match the name a table would give it.
#[derive(Debug, Clone, PartialEq)]
struct Misnamed;

impl eventmap::DomainEvent for Misnamed {
    fn event_name(&self) -> &'static str {
        "SomethingElse"
    }
}

#[tokio::test(flavor = "current_thread")]
async fn handlers_by_type_and_by_name_run_together_in_registration_order() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut dispatcher = eventmap::EventDispatcher::new();
    for (label, by_type) in [("type-1", true), ("name-1", false), ("type-2", true)] {
        let seen = Arc::clone(&seen);
        let handler = eventmap::dispatcher::handler_fn(move |_event| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock().expect("lock").push(label);
                Ok(())
            }
        });
        if by_type {
            dispatcher.subscribe_to::<Misnamed>(handler);
        } else {
            dispatcher.subscribe("SomethingElse", handler);
        }
    }
    assert_eq!(dispatcher.handler_count_of::<Misnamed>(), 2);
    let event = eventmap::AggregateEvent::new("Thing", "t-1", 1, Misnamed).into_dyn();
    dispatcher.publish(&[event]).await.expect("dispatched");
    assert_eq!(*seen.lock().expect("lock"), ["type-1", "name-1", "type-2"]);
}

/// One payload type recorded under several names, each instance naming itself.
#[derive(Debug, Clone, PartialEq)]
struct Toggled(&'static str);

impl eventmap::DomainEvent for Toggled {
    fn event_name(&self) -> &'static str {
        self.0
    }
}

/// A handler recording `label` and the event's name.
fn labelled(
    label: &'static str,
    seen: &Arc<Mutex<Vec<String>>>,
) -> impl eventmap::EventHandler + 'static {
    let seen = Arc::clone(seen);
    eventmap::dispatcher::handler_fn(move |event| {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock()
                .expect("lock")
                .push(format!("{label}:{}", event.name()));
            Ok(())
        }
    })
}

#[tokio::test(flavor = "current_thread")]
async fn handlers_by_type_and_name_run_only_for_their_name() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut dispatcher = eventmap::EventDispatcher::new();
    assert!(!dispatcher.is_mapped::<Toggled>());
    assert!(dispatcher.map_type::<Toggled>("switch", &["Enabled", "Disabled", "Paused"]));
    assert!(dispatcher.is_mapped::<Toggled>());
    // The same registration again is refused and leaves the names as they were.
    assert!(!dispatcher.map_type::<Toggled>("switch", &["Other"]));
    dispatcher
        .subscribe_to_named::<Toggled>("Enabled", labelled("on", &seen))
        .subscribe_to::<Toggled>(labelled("any", &seen))
        .subscribe_to_named::<Toggled>("Disabled", labelled("off", &seen))
        .subscribe("Disabled", labelled("by-name", &seen));
    assert_eq!(dispatcher.handler_count_of::<Toggled>(), 3);

    let events: Vec<_> = ["Enabled", "Disabled", "Paused", "Enabled"]
        .into_iter()
        .map(|name| eventmap::AggregateEvent::new("Switch", "s-1", 1, Toggled(name)).into_dyn())
        .collect();
    dispatcher.publish(&events).await.expect("dispatched");
    assert_eq!(
        *seen.lock().expect("lock"),
        [
            "on:Enabled",
            "any:Enabled",
            "any:Disabled",
            "off:Disabled",
            "by-name:Disabled",
            "any:Paused",
            "on:Enabled",
            "any:Enabled",
        ]
    );

    seen.lock().expect("lock").clear();
    let unknown = eventmap::AggregateEvent::new("Switch", "s-1", 2, Toggled("Broken")).into_dyn();
    let err = dispatcher
        .publish(&[events[0].clone(), unknown.clone(), events[1].clone()])
        .await
        .expect_err("Broken has no row");
    assert_eq!(err.event_name, "Broken");
    assert_eq!(err.event_id, unknown.id());
    let unmapped = err
        .source
        .downcast_ref::<eventmap::UnmappedEventName>()
        .expect("UnmappedEventName");
    assert_eq!(unmapped.event_name, "Broken");
    assert_eq!(unmapped.expected, ["Enabled", "Disabled", "Paused"]);
    assert!(
        unmapped.type_name.ends_with("Toggled"),
        "{}",
        unmapped.type_name
    );
    // The events before it ran; no handler of it or after it did.
    assert_eq!(*seen.lock().expect("lock"), ["on:Enabled", "any:Enabled"]);
}

#[tokio::test(flavor = "current_thread")]
async fn handlers_named_before_the_names_are_declared_still_run_only_for_their_name() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut dispatcher = eventmap::EventDispatcher::new();
    dispatcher
        .subscribe_to_named::<Toggled>("Enabled", labelled("on", &seen))
        .subscribe_to_named::<Toggled>("Elsewhere", labelled("never", &seen));
    assert!(dispatcher.map_type::<Toggled>("switch", &["Disabled", "Enabled"]));
    dispatcher.subscribe_to_named::<Toggled>("Disabled", labelled("off", &seen));
    let events: Vec<_> = ["Disabled", "Enabled"]
        .into_iter()
        .map(|name| eventmap::AggregateEvent::new("Switch", "s-1", 1, Toggled(name)).into_dyn())
        .collect();
    dispatcher.publish(&events).await.expect("dispatched");
    assert_eq!(*seen.lock().expect("lock"), ["off:Disabled", "on:Enabled"]);
}

#[tokio::test(flavor = "current_thread")]
async fn two_registrations_of_one_type_both_run_and_each_only_once() {
    // Two tables mapping one domain type (say a producer's own table and a mirroring one):
    // both registrations apply, registering either again applies nothing, and the type's
    // names are those of both.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut dispatcher = eventmap::EventDispatcher::new();
    for _ in 0..2 {
        if dispatcher.map_type::<Toggled>("first", &["Enabled"]) {
            dispatcher.subscribe_to_named::<Toggled>("Enabled", labelled("first", &seen));
        }
        if dispatcher.map_type::<Toggled>("second", &["Enabled", "Disabled"]) {
            dispatcher
                .subscribe_to_named::<Toggled>("Enabled", labelled("second", &seen))
                .subscribe_to_named::<Toggled>("Disabled", labelled("second", &seen));
        }
    }
    let events: Vec<_> = ["Enabled", "Disabled"]
        .into_iter()
        .map(|name| eventmap::AggregateEvent::new("Switch", "s-1", 1, Toggled(name)).into_dyn())
        .collect();
    dispatcher.publish(&events).await.expect("dispatched");
    assert_eq!(
        *seen.lock().expect("lock"),
        ["first:Enabled", "second:Enabled", "second:Disabled"]
    );
    let unknown = eventmap::AggregateEvent::new("Switch", "s-1", 2, Toggled("Paused")).into_dyn();
    let err = dispatcher.publish(&[unknown]).await.expect_err("no row");
    let unmapped = err
        .source
        .downcast_ref::<eventmap::UnmappedEventName>()
        .expect("UnmappedEventName");
    assert_eq!(unmapped.expected, ["Enabled", "Disabled"]);
}

/// An event of a type that no table registered on the dispatcher maps fails with
/// `UnmappedEventType` (it would otherwise be stored and never published); a dispatcher with
/// no table at all (only the application's handlers) still skips it.
#[tokio::test(flavor = "current_thread")]
async fn an_event_type_no_table_maps_fails_once_a_table_is_registered() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let canceled = AggregateEvent::new(
        "Order",
        "o-1",
        1,
        OrderCanceled {
            reason: "late".into(),
        },
    )
    .into_dyn();

    let mut own_handlers_only = EventDispatcher::new();
    own_handlers_only.subscribe_to::<Toggled>(labelled("any", &seen));
    own_handlers_only
        .publish(std::slice::from_ref(&canceled))
        .await
        .expect("without a table, an event without handlers is skipped");

    let mut with_a_table = EventDispatcher::new();
    assert!(with_a_table.map_type::<Toggled>("switch", &["Enabled"]));
    with_a_table.subscribe_to_named::<Toggled>("Enabled", labelled("on", &seen));
    let enabled = AggregateEvent::new("Switch", "s-1", 1, Toggled("Enabled")).into_dyn();
    let err = with_a_table
        .publish(&[enabled, canceled.clone()])
        .await
        .expect_err("OrderCanceled is in no table");
    assert_eq!(
        (err.event_name.as_str(), err.event_id),
        ("OrderCanceled", canceled.id())
    );
    assert_eq!(
        err.source.downcast_ref(),
        Some(&eventmap::UnmappedEventType::new("OrderCanceled", "Order"))
    );
    // The event before it was dispatched.
    assert_eq!(*seen.lock().expect("lock"), ["on:Enabled"]);

    // A name the table keeps `internal` is skipped whatever its type: the table names it.
    with_a_table.declare_internal(&["OrderCanceled"]);
    with_a_table
        .publish(&[canceled])
        .await
        .expect("an internal event is skipped");
}
