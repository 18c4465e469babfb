//! `eventmap check --against-registry` on a real nats-server: the registry that the runtime's
//! `ContractRegistry` writes when a producer starts is what `eventmap_codegen::contract_registry`
//! reads back (one layout, `eventmap_contract::registry`), and the billing consumer compiled with
//! `v1` (`fixtures/contracts/`) is judged against what each producer version registered.

use std::path::Path;
use std::time::Duration;

use eventmap::nats::ContractRegistry;
use eventmap::test_util::LocalServer;
use eventmap_codegen::contract_registry::{self, ReadError, Server, Snapshot};
use eventmap_codegen::{Analysis, analyze};
use eventmap_tests::contracts::{compatible, incompatible, v1};

const SUBJECT: &str = "billing.invoice.InvoiceIssuedEvent";

fn table(version: &str) -> Analysis {
    analyze(Path::new(&format!("fixtures/contracts/{version}.yaml"))).expect("analyze")
}

/// Reads the registry of `url` for `v1`'s table (off the async runtime: `read` blocks).
async fn read(url: String) -> Result<Snapshot, ReadError> {
    tokio::task::spawn_blocking(move || {
        let wanted = contract_registry::wanted(&[table("v1")]);
        contract_registry::read(&Server::new(url), &wanted)
    })
    .await
    .expect("join")
}

fn rules_of_v1_against(snapshot: &Snapshot) -> Vec<&'static str> {
    let mut analyses = [table("v1")];
    contract_registry::check(&mut analyses, snapshot);
    analyses[0].diagnostics.iter().map(|d| d.rule).collect()
}

#[tokio::test]
async fn the_registry_the_runtime_writes_is_the_one_check_reads() {
    let mut server = LocalServer::start().await.expect("nats-server");
    let url = server.url();

    // No producer yet: no bucket, every subscription unchecked (warnings).
    let empty = read(url.clone()).await.expect("read");
    assert!(!empty.exists);
    assert!(empty.events.is_empty() && empty.channels.is_empty());
    assert_eq!(
        rules_of_v1_against(&empty),
        [
            "registry-channel-unregistered",
            "registry-channel-unregistered"
        ]
    );

    let client = async_nats::connect(&url).await.expect("connect");
    let registry = ContractRegistry::open(&async_nats::jetstream::new(client))
        .await
        .expect("registry");

    // The v1 producer registers: what is read is what the table's producer would write.
    registry
        .register(v1::integration::contracts::PUBLISHED)
        .await
        .expect("register v1");
    let live = read(url.clone()).await.expect("read");
    let expected = Snapshot::registered_by(url.clone(), &[table("v1")]);
    assert!(live.exists);
    assert_eq!(live.events, expected.events);
    assert_eq!(live.channels, expected.channels);
    assert_eq!(
        live.schemas.keys().collect::<Vec<_>>(),
        expected.schemas.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        live.events[SUBJECT],
        v1::integration::contracts::PUBLISHED[0].dataschema
    );
    assert!(rules_of_v1_against(&live).is_empty());

    // A compatible producer (fields added) is deployed: v1's consumer still reads it.
    registry
        .register(compatible::integration::contracts::PUBLISHED)
        .await
        .expect("register compatible");
    let live = read(url.clone()).await.expect("read");
    assert_eq!(
        live.events[SUBJECT],
        compatible::integration::contracts::PUBLISHED[0].dataschema
    );
    let rules = rules_of_v1_against(&live);
    assert!(
        !rules.contains(&"registry-consumer-incompatible"),
        "{rules:?}"
    );

    // An incompatible producer is deployed: v1's subscriptions cannot read it, and that
    // survives a restart of the server (the bucket is on file storage).
    registry
        .register(incompatible::integration::contracts::PUBLISHED)
        .await
        .expect("register incompatible");
    server.restart().await.expect("restart");
    let live = read(url.clone()).await.expect("read after restart");
    assert_eq!(
        rules_of_v1_against(&live),
        [
            "registry-producer-break",
            "registry-consumer-incompatible",
            "registry-consumer-incompatible"
        ]
    );
}

#[tokio::test]
async fn an_unreachable_server_is_an_error_not_a_pass() {
    let mut server = LocalServer::start().await.expect("nats-server");
    let url = server.url();
    server.stop().await.expect("stop");
    let started = std::time::Instant::now();
    let err = tokio::task::spawn_blocking(move || {
        let server = Server {
            timeout: Duration::from_secs(2),
            ..Server::new(url)
        };
        contract_registry::read(&server, &contract_registry::wanted(&[table("v1")]))
    })
    .await
    .expect("join")
    .expect_err("nothing to read");
    assert!(matches!(err, ReadError::Connect { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot connect to NATS at `nats://127.0.0.1:")
    );
    // Bounded by the timeout, not a hang.
    assert!(started.elapsed() < Duration::from_secs(30));
}
