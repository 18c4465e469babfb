//! The code generated for `fixtures/kitchen/mappings.yaml` (every field form of the mapping
//! format) is compiled by this crate's build script and run here with real values.

use std::time::{Duration, SystemTime};

use eventmap::{
    AggregateEvent, EventDispatcher, InMemoryPublisher, IntegrationEventSet, integration_event_id,
};
use eventmap_tests::kitchen::{Address, Child, Level, Node, Parent, SinkFilled, Stamp, Wrapped};
use eventmap_tests::kitchen_integration::{
    self as generated, SinksIntegrationEvent, integration_event_names as integration_events,
};
use eventmap_tests::kitchen_proto::kitchen::v1::{self as proto, sink};

fn event(narrowed: u32) -> AggregateEvent<SinkFilled> {
    let payload = SinkFilled {
        r#type: "porcelain".into(),
        r#match: "exact".into(),
        myself: "me".into(),
        small: 65_535,
        narrowed,
        wide: -7,
        ratio: 0.5,
        raw: vec![0, 159, 255],
        address: Address {
            street: "1 Main St".into(),
            city: "Springfield".into(),
        },
        previous: vec![
            Address {
                street: "2 Elm St".into(),
                city: "Shelbyville".into(),
            },
            Address {
                street: "3 Oak St".into(),
                city: "Capital City".into(),
            },
        ],
        tags: vec!["a".into(), "b".into()],
        nickname: Some("sinky".into()),
        took: Duration::new(3, 500_000_000),
        inner: Wrapped("wrapped".into()),
        r#async: "later".into(),
        node: Node {
            label: "leaf".into(),
            parent: Parent {
                label: "root".into(),
            },
            children: vec![Child { this: "kid".into() }],
        },
        nickname_text: "wrapped text".into(),
        stamp: Stamp { secs: 86_400 },
        labels: [("team".to_owned(), "core".to_owned())]
            .into_iter()
            .collect(),
        level: Level::High(3),
        history: vec![Level::Low, Level::High(1)],
    };
    AggregateEvent::new("Kitchen", "kitchen-1", 7, payload)
        .with_occurred_at(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123))
}

#[test]
fn every_field_form_converts() {
    let event = event(42);
    let sink = generated::sink_filled_event(&event).expect("converts");
    let expected_id = integration_event_id(event.id(), "SinkFilledEvent").to_string();
    assert_eq!(sink.id, expected_id);
    assert_eq!(sink.r#type, "porcelain");
    assert_eq!(sink.r#match, "exact");
    assert_eq!(sink.self_, "me");
    assert_eq!(sink.small, 65_535);
    assert_eq!(sink.narrowed, 42);
    assert_eq!(sink.wide, -7);
    assert_eq!(sink.ratio, 0.5);
    assert!(sink.flag);
    assert_eq!(sink.raw, vec![0, 159, 255]);
    assert_eq!(sink.priority, proto::Priority::High as i32);
    assert_eq!(
        sink.address,
        Some(proto::Address {
            street: "1 Main St".into(),
            city: "Springfield".into()
        })
    );
    // `city` is a constant in the nested mapping of `previous`, taken as written (`NO`).
    let streets: Vec<(&str, &str)> = sink
        .previous
        .iter()
        .map(|a| (a.street.as_str(), a.city.as_str()))
        .collect();
    assert_eq!(streets, [("2 Elm St", "NO"), ("3 Oak St", "NO")]);
    assert_eq!(sink.tags, ["a", "b"]);
    assert_eq!(sink.nickname.as_deref(), Some("sinky"));
    assert_eq!(
        sink.at,
        Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_000_000
        })
    );
    assert_eq!(
        sink.took,
        Some(prost_types::Duration {
            seconds: 3,
            nanos: 500_000_000
        })
    );
    assert_eq!(sink.labels.get("team").map(String::as_str), Some("core"));
    assert_eq!(sink.labels.len(), 1);
    // The mapped oneof member `b` is the oneof's value.
    assert_eq!(sink.choice, Some(sink::Choice::B(65_535)));
    assert_eq!(sink.level, proto::Priority::High as i32);
    assert_eq!(
        sink.levels,
        [
            proto::Priority::Unspecified as i32,
            proto::Priority::High as i32
        ]
    );
    assert_eq!(sink.event_uuid, event.id().to_string());
    assert_eq!(sink.aggregate, "Kitchen");
    assert_eq!(sink.version, 7);
    assert_eq!(sink.name, "SinkFilled");
    assert_eq!(
        sink.inner,
        Some(sink::Inner {
            value: "wrapped".into()
        })
    );
    assert_eq!(sink.computed, -14);
    assert_eq!(sink.r#async, "later");
    assert_eq!(sink.weight, 1.1_f32);
    assert_eq!(sink.offset, -12);
    let node = sink.node.expect("node");
    assert_eq!(node.label, "leaf");
    // `parent` is boxed by prost: the recursive message is built inside `Box::new`.
    let parent: Box<proto::Node> = node.parent.expect("parent");
    assert_eq!(parent.label, "root");
    assert!(parent.parent.is_none() && parent.children.is_empty());
    assert_eq!(node.children.len(), 1);
    assert_eq!(node.children[0].label, "kid");
    // `google.protobuf.StringValue` is `Option<String>` in prost.
    assert_eq!(sink.maybe.as_deref(), Some("wrapped text"));
    // A well-known message built field by field lives in `::prost_types`.
    assert_eq!(
        sink.manual,
        Some(prost_types::Timestamp {
            seconds: 86_400,
            nanos: 5
        })
    );
}

#[test]
fn try_from_is_generated_for_a_unique_pair() {
    let event = event(1);
    let via_try_from = proto::Sink::try_from(&event).expect("converts");
    assert_eq!(
        via_try_from,
        generated::sink_filled_event(&event).expect("converts")
    );
}

#[test]
fn a_second_contract_version_is_converted_side_by_side() {
    let event = event(1);
    let v2 = generated::sink_filled_event_v2(&event).expect("converts");
    assert_eq!(
        v2.id,
        integration_event_id(event.id(), "SinkFilledEventV2").to_string()
    );
    assert_ne!(
        v2.id,
        generated::sink_filled_event(&event).expect("converts").id
    );
    assert_eq!(v2.previous[1].city, "Capital City");
}

#[test]
fn a_narrowing_that_does_not_fit_names_the_field() {
    let err = generated::sink_filled_event(&event(u32::MAX)).expect_err("does not fit i32");
    assert_eq!(err.field(), "narrowed");
    assert!(err.to_string().contains("narrowed"), "{err}");
}

#[tokio::test(flavor = "current_thread")]
async fn registration_publishes_each_integration_event_of_a_domain_event() {
    let publisher = InMemoryPublisher::new();
    let mut dispatcher = EventDispatcher::new();
    generated::register_integration_event_handlers(
        &mut dispatcher,
        std::sync::Arc::new(publisher.clone()),
    );
    let event = event(5);
    dispatcher
        .publish(&[event.clone().into_dyn()])
        .await
        .expect("published");
    let messages = publisher.messages();
    let names: Vec<&str> = messages.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["SinkFilledEvent", "SinkFilledEventV2"]);
    assert_eq!(messages[0].subject, "kitchen.sinks.SinkFilledEvent");
    assert_eq!(messages[0].header("ce-source"), Some("kitchen-tests"));
    // The channel enum decodes what was published, by `ce-type`.
    let decoded =
        SinksIntegrationEvent::decode(&messages[1].name, &messages[1].payload).expect("decodes");
    assert_eq!(decoded.name(), integration_events::SINK_FILLED_EVENT_V2);
    match decoded {
        SinksIntegrationEvent::SinkFilledEventV2(v2) => assert_eq!(v2.r#type, "porcelain"),
        other => panic!("decoded as {other:?}"),
    }
    assert_eq!(
        SinksIntegrationEvent::NAMES,
        [
            integration_events::SINK_FILLED_EVENT,
            integration_events::SINK_FILLED_EVENT_V2
        ]
    );
    // A domain event mapped to no integration event publishes nothing.
    let drained = AggregateEvent::new(
        "Kitchen",
        "kitchen-1",
        8,
        eventmap_tests::kitchen::SinkDrained,
    );
    dispatcher
        .publish(&[drained.into_dyn()])
        .await
        .expect("no handler, no error");
    assert_eq!(publisher.messages().len(), 2);
}
