//! `eventmap_codegen::contract_registry::check` on registries built in memory: the billing
//! table of the contract guard's tests (`tests/fixtures/contracts/`: `v1`, a `compatible`
//! change, an `incompatible` one) checked against what each version's producer registers.
//! The same checks on a real nats-server, through the runtime's registry and the CLI, are in
//! `tests/tests/check_registry.rs`.

use std::path::Path;

use eventmap_codegen::contract_registry::{self, Compared, Snapshot};
use eventmap_codegen::{Analysis, Diagnostic, Severity, analyze};

const FIXTURES: &str = "../tests/fixtures/contracts";
const SUBJECT: &str = "billing.invoice.InvoiceIssuedEvent";

fn table(version: &str) -> Analysis {
    let analysis = analyze(&Path::new(FIXTURES).join(format!("{version}.yaml"))).expect("analyze");
    assert!(!analysis.has_errors(), "{}", analysis.render());
    analysis
}

/// What the producer built from `version` registers.
fn registered_by(version: &str) -> Snapshot {
    Snapshot::registered_by("nats://test", &[table(version)])
}

/// `v1`'s table checked against `snapshot`: the new diagnostics and the counts.
fn check_v1(snapshot: &Snapshot) -> (Vec<Diagnostic>, Compared) {
    let mut analyses = [table("v1")];
    let compared = contract_registry::check(&mut analyses, snapshot);
    let [analysis] = analyses;
    (analysis.diagnostics, compared)
}

fn rules(diagnostics: &[Diagnostic]) -> Vec<&str> {
    diagnostics.iter().map(|d| d.rule).collect()
}

#[test]
fn the_table_wants_what_it_publishes_and_receives() {
    let wanted = contract_registry::wanted(&[table("v1")]);
    assert_eq!(wanted.events.into_iter().collect::<Vec<_>>(), [SUBJECT]);
    assert_eq!(
        wanted.channels.into_iter().collect::<Vec<_>>(),
        ["billing.invoice"]
    );
}

#[test]
fn the_tables_own_contracts_live_pass() {
    let (diagnostics, compared) = check_v1(&registered_by("v1"));
    assert!(diagnostics.is_empty(), "{diagnostics:#?}");
    // Published once, received by two subscriptions.
    assert_eq!(
        compared,
        Compared {
            same: 3,
            ..Compared::default()
        }
    );
}

#[test]
fn an_incompatible_live_contract_fails_both_sides() {
    let (diagnostics, compared) = check_v1(&registered_by("incompatible"));
    assert_eq!(compared.differ, 3);
    assert_eq!(
        rules(&diagnostics),
        [
            "registry-producer-break",
            "registry-consumer-incompatible",
            "registry-consumer-incompatible"
        ]
    );
    for d in &diagnostics {
        assert!(
            d.message
                .contains("field `total_cents` (number 2) of `billing.v1.InvoiceIssued`"),
            "{}",
            d.message
        );
        assert!(
            d.message.contains("`int64`") && d.message.contains("`string`"),
            "{}",
            d.message
        );
        assert!(
            d.notes[0]
                .0
                .contains("live in the registry at `nats://test`")
        );
        assert_eq!(d.severity, Severity::Error);
    }
    // Located in the table: the integration event's row, then each subscribed event.
    let lines: Vec<usize> = diagnostics
        .iter()
        .map(|d| d.location.as_ref().expect("located").line)
        .collect();
    assert_eq!(lines, [18, 37, 48]);
    // The note on the table's own contract points at the field in its `.proto`.
    for d in &diagnostics {
        let own = d.notes[1].1.as_ref().expect("the table's field is located");
        assert!(own.file.ends_with("billing/v1/invoice.proto"), "{own}");
        assert_eq!(own.line, TOTAL_CENTS_LINE, "{own}");
    }
}

/// The line of `total_cents` in `tests/fixtures/contracts/v1/billing/v1/invoice.proto`.
const TOTAL_CENTS_LINE: usize = 13;

#[test]
fn a_compatible_live_contract_passes_the_consumer_and_flags_the_rollback() {
    // Producers publish `compatible` (two fields added): v1's copy reads it; but v1's producer
    // would drop those fields for the consumers compiled with `compatible`.
    let (diagnostics, compared) = check_v1(&registered_by("compatible"));
    assert_eq!(compared.differ, 3);
    assert_eq!(
        rules(&diagnostics),
        ["registry-producer-break", "registry-producer-break"]
    );
    // The nested `Line.note` (3), then the root's `currency` (4).
    assert!(
        diagnostics[0]
            .message
            .contains("field `note` (number 3) of `billing.v1.InvoiceIssued.Line`: the producer's contract has no field 3"),
        "{}",
        diagnostics[0].message
    );
    assert!(
        diagnostics[1]
            .message
            .contains("field `currency` (number 4) of `billing.v1.InvoiceIssued`: the producer's contract has no field 4"),
        "{}",
        diagnostics[1].message
    );
}

#[test]
fn an_event_the_channel_does_not_carry_is_reported_with_a_suggestion() {
    let mut snapshot = registered_by("v1");
    snapshot
        .channels
        .insert("billing.invoice".into(), vec!["InvoiceIssuedEvnt".into()]);
    let (diagnostics, _) = check_v1(&snapshot);
    assert_eq!(
        rules(&diagnostics),
        ["registry-event-unregistered", "registry-event-unregistered"]
    );
    assert_eq!(
        diagnostics[0].hint.as_deref(),
        Some("did you mean `InvoiceIssuedEvnt`?")
    );
}

#[test]
fn a_server_without_registry_warns_per_subscription() {
    let snapshot = Snapshot {
        server: "nats://empty".into(),
        ..Snapshot::default()
    };
    let (diagnostics, compared) = check_v1(&snapshot);
    assert_eq!(
        rules(&diagnostics),
        [
            "registry-channel-unregistered",
            "registry-channel-unregistered"
        ]
    );
    assert!(diagnostics.iter().all(|d| d.severity == Severity::Warning));
    assert!(
        diagnostics[0]
            .hint
            .as_deref()
            .unwrap_or_default()
            .contains("no contract registry yet"),
        "{:?}",
        diagnostics[0].hint
    );
    assert_eq!(compared.unregistered, 3);
}

#[test]
fn a_contract_the_registry_does_not_hold_is_invalid() {
    let mut snapshot = registered_by("incompatible");
    snapshot.schemas.clear();
    let (diagnostics, _) = check_v1(&snapshot);
    assert_eq!(
        rules(&diagnostics),
        ["registry-invalid", "registry-invalid", "registry-invalid"]
    );
    assert!(
        diagnostics[0]
            .message
            .contains("the registry does not hold it"),
        "{}",
        diagnostics[0].message
    );
}

#[test]
fn a_table_with_errors_is_not_compared() {
    let mut analysis = table("v1");
    analysis.diagnostics.push(Diagnostic::new(
        eventmap_codegen::rules::UNKNOWN_PROTO_FIELD,
        "an error of the table",
    ));
    let mut analyses = [analysis];
    let compared = contract_registry::check(&mut analyses, &registered_by("incompatible"));
    assert_eq!(compared.skipped, 1);
    assert_eq!(analyses[0].diagnostics.len(), 1);
}
