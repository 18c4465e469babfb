//! Fuzzing the loader and validator with proptest: arbitrary bytes and text, generated tables
//! that look like the format (its keys, nesting, YAML oddities, anchors, aliases and merge
//! keys), and mutations of the example table, each checked against the example's protos
//! (copied into a temporary folder). Every input must keep [`support::invariants`]: no panic,
//! every location 1-based and inside its file, and when there is no error the generated module
//! parses.
//!
//! 256 cases per property by default; more with `PROPTEST_CASES`. Each property prints its
//! executions, time and seed; `FUZZ_SEED=<seed>` replays a run. A long run and its findings
//! are recorded in BENCHMARKS.md ("Fuzzing the loader and validator"):
//!
//! ```sh
//! PROPTEST_CASES=20000 flock /tmp/eventmap-cargo.lock cargo test --release -p eventmap-codegen --test fuzz -- --nocapture
//! ```

mod support;

use std::fmt::Debug;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

/// The example's table.
const EXAMPLE: &str = include_str!("../../mappings.yaml");

/// A temporary folder holding a copy of the example's `proto/`; tables are analyzed as its
/// `mappings.yaml`.
struct Fixture {
    dir: tempfile::TempDir,
    /// How the inputs fared: the rule of their first error, or `ok` (generated and parsed).
    outcomes: std::sync::Mutex<std::collections::BTreeMap<&'static str, usize>>,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto"),
            &dir.path().join("proto"),
        );
        Fixture {
            dir,
            outcomes: Default::default(),
        }
    }

    fn record(&self, analysis: &eventmap_codegen::Analysis) {
        let outcome = analysis
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .map_or("ok", |d| d.rule);
        // `FUZZ_DEBUG=1`: every first error, to see where generated inputs stop.
        if std::env::var_os("FUZZ_DEBUG").is_some()
            && let Some(d) = analysis.diagnostics.iter().find(|d| d.is_error())
        {
            let message: String = d.message.chars().take(120).collect();
            eprintln!("first error {}: {message}", d.rule);
        }
        if let Ok(mut outcomes) = self.outcomes.lock() {
            *outcomes.entry(outcome).or_default() += 1;
        }
    }

    /// The outcomes so far, most frequent first, and clears them.
    fn outcomes(&self) -> String {
        let Ok(mut outcomes) = self.outcomes.lock() else {
            return String::new();
        };
        let mut all: Vec<(&str, usize)> = outcomes.iter().map(|(k, v)| (*k, *v)).collect();
        all.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        outcomes.clear();
        all.iter()
            .map(|(rule, n)| format!("{rule} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn table(&self) -> PathBuf {
        self.dir.path().join("mappings.yaml")
    }

    /// Analyzes `text` as the table, without writing it.
    fn check_text(&self, text: &str) -> Result<(), String> {
        let analysis = eventmap_codegen::analyze_str(&self.table(), text);
        self.record(&analysis);
        support::invariants(&analysis, &self.table())
    }

    /// Writes `bytes` as the table and analyzes the file (the only way to non-UTF-8 input).
    fn check_bytes(&self, bytes: &[u8]) -> Result<(), String> {
        std::fs::write(self.table(), bytes).map_err(|e| e.to_string())?;
        let analysis = eventmap_codegen::analyze(&self.table()).map_err(|e| e.to_string())?;
        self.record(&analysis);
        support::invariants(&analysis, &self.table())
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// Runs `check` on `PROPTEST_CASES` (default 256) values of `strategy`, shrinks a failure,
/// and prints the number of executions, the time and the seed.
fn fuzz<S>(
    name: &str,
    fixture: &Fixture,
    strategy: S,
    check: impl Fn(&S::Value) -> Result<(), String>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let seed = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4096,
        ..Config::default()
    };
    let mut rng_seed = [0u8; 32];
    rng_seed[..8].copy_from_slice(&seed.to_le_bytes());
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &rng_seed));
    let executions = AtomicUsize::new(0);
    let started = Instant::now();
    let result = runner.run(&strategy, |value| {
        executions.fetch_add(1, Ordering::Relaxed);
        check(&value).map_err(TestCaseError::fail)
    });
    eprintln!(
        "fuzz {name}: {cases} cases, {} executions, {:.1?}, FUZZ_SEED={seed}\n  first errors: {}",
        executions.load(Ordering::Relaxed),
        started.elapsed(),
        fixture.outcomes()
    );
    if let Err(failure) = result {
        panic!("fuzz {name} (FUZZ_SEED={seed}): {failure}");
    }
}

// ---------------------------------------------------------------------------------------
// (a) Arbitrary bytes and text.
// ---------------------------------------------------------------------------------------

/// Pieces of YAML syntax, for text that gets past the first character of the parser.
const YAML_PIECES: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ": ",
    ":",
    ",",
    " ",
    "  ",
    "\n",
    "\n  ",
    "- ",
    "? ",
    "&a ",
    "*a",
    "<<: ",
    "'",
    "\"",
    "#",
    "---\n",
    "...\n",
    "|\n",
    ">-\n",
    "!!str ",
    "!t ",
    "%YAML 1.2\n",
    "\t",
    "~",
    "\\",
    "\r\n",
    "\u{feff}",
    "é",
    "\u{1F600}",
    "version",
    "1",
    "events",
    "fields",
    "from",
];

#[test]
fn fuzz_arbitrary_bytes() {
    let fixture = Fixture::new();
    fuzz(
        "arbitrary bytes",
        &fixture,
        prop::collection::vec(any::<u8>(), 0..512),
        |bytes| fixture.check_bytes(bytes),
    );
}

#[test]
fn fuzz_arbitrary_text() {
    let fixture = Fixture::new();
    let soup = prop::collection::vec(prop::sample::select(YAML_PIECES), 0..120)
        .prop_map(|pieces| pieces.concat());
    let text = prop_oneof![any::<String>(), soup];
    fuzz("arbitrary text", &fixture, text, |text| {
        fixture.check_text(text)
    });
}

// ---------------------------------------------------------------------------------------
// (b) Tables that look like the format.
// ---------------------------------------------------------------------------------------

/// A YAML node before rendering.
#[derive(Clone, Debug)]
enum Node {
    Scalar(String),
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    /// `&aN <node>`.
    Anchored(u8, Box<Node>),
    /// `*aN`.
    Alias(u8),
}

fn map(entries: Vec<(&str, Node)>) -> Node {
    Node::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

fn scalar(text: &str) -> Node {
    Node::Scalar(text.to_owned())
}

/// How a scalar is written.
#[derive(Clone, Copy, Debug)]
enum Quote {
    Plain,
    Single,
    Double,
}

/// Renders `node` in block style down to `block_depth` levels, in flow style below.
fn render(node: &Node, block_depth: usize, quotes: &[Quote]) -> String {
    let mut out = String::new();
    let mut next_quote = 0usize;
    block(node, 0, block_depth, quotes, &mut next_quote, &mut out);
    out
}

fn quote(text: &str, quotes: &[Quote], next: &mut usize) -> String {
    let style = quotes
        .get(*next % quotes.len().max(1))
        .copied()
        .unwrap_or(Quote::Plain);
    *next += 1;
    match style {
        Quote::Plain => text.to_owned(),
        Quote::Single => format!("'{}'", text.replace('\'', "''")),
        Quote::Double => {
            let mut out = String::from("\"");
            for c in text.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
    }
}

fn flow(node: &Node, quotes: &[Quote], next: &mut usize) -> String {
    match node {
        Node::Scalar(s) => quote(s, quotes, next),
        Node::Alias(n) => format!("*a{n}"),
        Node::Anchored(n, inner) => format!("&a{n} {}", flow(inner, quotes, next)),
        Node::Seq(items) => {
            let items: Vec<String> = items.iter().map(|i| flow(i, quotes, next)).collect();
            format!("[{}]", items.join(", "))
        }
        Node::Map(entries) => {
            let entries: Vec<String> = entries
                .iter()
                .map(|(k, v)| {
                    let k = if k == "<<" {
                        k.clone()
                    } else {
                        quote(k, quotes, next)
                    };
                    format!("{k}: {}", flow(v, quotes, next))
                })
                .collect();
            format!("{{{}}}", entries.join(", "))
        }
    }
}

fn block(
    node: &Node,
    indent: usize,
    block_depth: usize,
    quotes: &[Quote],
    next: &mut usize,
    out: &mut String,
) {
    let pad = " ".repeat(indent);
    let is_block = |n: &Node| match n {
        Node::Map(e) => !e.is_empty(),
        Node::Seq(i) => !i.is_empty(),
        Node::Anchored(..) | Node::Scalar(_) | Node::Alias(_) => false,
    };
    match node {
        Node::Map(entries) if block_depth > 0 && !entries.is_empty() => {
            for (key, value) in entries {
                // A quoted `<<` is a plain key, not a merge.
                let key = if key == "<<" {
                    key.clone()
                } else {
                    quote(key, quotes, next)
                };
                match value {
                    Node::Anchored(n, inner) if block_depth > 1 && is_block(inner) => {
                        out.push_str(&format!("{pad}{key}: &a{n}\n"));
                        block(inner, indent + 2, block_depth - 1, quotes, next, out);
                    }
                    v if block_depth > 1 && is_block(v) => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        block(v, indent + 2, block_depth - 1, quotes, next, out);
                    }
                    v => out.push_str(&format!("{pad}{key}: {}\n", flow(v, quotes, next))),
                }
            }
        }
        Node::Seq(items) if block_depth > 0 && !items.is_empty() => {
            for item in items {
                if block_depth > 1 && is_block(item) {
                    out.push_str(&format!("{pad}-\n"));
                    block(item, indent + 2, block_depth - 1, quotes, next, out);
                } else {
                    out.push_str(&format!("{pad}- {}\n", flow(item, quotes, next)));
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", flow(other, quotes, next))),
    }
}

/// Scalars that YAML 1.1 or 1.2 would read as something other than a string, and others
/// that are awkward to write plainly.
const ODD_SCALARS: &[&str] = &[
    "~",
    "null",
    "Null",
    "NO",
    "no",
    "yes",
    "on",
    "off",
    "y",
    "1.10",
    "0o17",
    "012",
    "0x1F",
    "1e3",
    "-1",
    "+1",
    ".inf",
    "-.inf",
    ".nan",
    "2147483648",
    "18446744073709551616",
    "true",
    "false",
    "True",
    "",
    " ",
    "default",
    "internal",
    "é",
    "日本語",
    "\u{1F600}",
    "a b",
    "a: b",
    "- x",
    "#x",
    "x #y",
    "'q'",
    "\"q\"",
    "|",
    ">",
    "@x",
    "`x`",
    "%x",
    "!t x",
    "!!str 1",
    "*x",
    "&a x",
    "\\",
    "\t",
    "a\nb",
    "\u{0}",
    "\u{7f}",
    "\u{200b}",
    "r#type",
    "self",
    "crate",
    "_",
];

/// Keys of the format, at every level.
const FORMAT_KEYS: &[&str] = &[
    "version",
    "service",
    "protos",
    "include",
    "files",
    "rust",
    "domain_module",
    "proto_module",
    "output",
    "channels",
    "events",
    "name",
    "message",
    "channel",
    "type",
    "fields",
    "from",
    "with",
    "envelope",
    "const",
    "default",
    "checked",
    "enum",
    "values",
    "subject",
    "stream",
    "<<",
];

/// Field names of the example's protos, and a few that are not.
const FIELD_NAMES: &[&str] = &[
    "id",
    "order_id",
    "customer_id",
    "payment_id",
    "items",
    "product_id",
    "store_id",
    "product_name",
    "unit_price_cents",
    "quantity",
    "total_cents",
    "currency",
    "created_at",
    "order_version",
    "readied_at",
    "reason",
    "canceled_at",
    "invoice_id",
    "completed_at",
    "emitted_by",
    "note",
    "type",
    "r#type",
    "ID",
    "",
];

const MESSAGES: &[&str] = &[
    "ordering.v1.OrderCreated",
    "ordering.v1.OrderReadied",
    "ordering.v1.OrderCanceled",
    "ordering.v1.OrderCompleted",
    "ordering.v1.OrderItem",
    "ordering.v1.OrderCreatd",
    "google.protobuf.Timestamp",
    "google.protobuf.StringValue",
    "OrderCreated",
    "ordering.v1.",
    ".ordering.v1.OrderCreated",
];

const ENVELOPE: &[&str] = &[
    "event_id",
    "integration_event_id",
    "event_name",
    "aggregate_id",
    "aggregate_name",
    "aggregate_version",
    "occurred_at",
    "occured_at",
];

const NAMES: &[&str] = &[
    "OrderCreated",
    "OrderReadied",
    "OrderCanceled",
    "OrderCompleted",
    "order_created",
    "OrderCreatedEvent",
    "OrderCreatedEventV2",
    "order",
    "audit",
    "all",
    "Self",
    "fn",
    "r#fn",
    "1abc",
    "a-b",
    "RegisterIntegrationEventHandlers",
    "Ordre",
];

const PATHS: &[&str] = &[
    "crate::domain::events",
    "crate::proto",
    "crate::money::to_cents",
    "::core::convert::From",
    "crate::",
    "a::b::",
    "self::x",
    "super::y",
    "crate::r#type::f",
    "Vec<u8>",
    "a b",
];

const SUBJECTS: &[&str] = &[
    "ordering.order",
    "ordering.audit",
    "ordering.*",
    "ordering.>",
    "ordering..order",
    ".x",
    "a b",
    "ordering",
    "ORDERING_ORDERS",
    "ORDERS.X",
    "ORD/ERS",
    "",
];

fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    prop::sample::select(list).prop_map(str::to_owned)
}

/// How far a generated table strays from the format: 0 keeps to its vocabulary and maps
/// every proto field with a source that fits it (so many tables check and generate); higher
/// levels mix in odd scalars, arbitrary text, unknown or missing keys and duplicates.
type Chaos = u32;

fn chaos() -> impl Strategy<Value = Chaos> {
    prop_oneof![8 => Just(0), 5 => Just(1), 4 => Just(4), 3 => Just(16)]
}

/// `prop_oneof!` with weights that may be 0 (a choice left out).
fn one_of<T: Debug + 'static>(choices: Vec<(Chaos, BoxedStrategy<T>)>) -> BoxedStrategy<T> {
    let choices: Vec<(u32, BoxedStrategy<T>)> = choices
        .into_iter()
        .filter(|(weight, _)| *weight > 0)
        .collect();
    proptest::strategy::Union::new_weighted(choices).boxed()
}

/// A scalar: from `list`, or, the more the chaos, odd or anything.
fn value(list: &'static [&'static str], chaos: Chaos) -> BoxedStrategy<Node> {
    if chaos == 0 {
        return pick(list).prop_map(Node::Scalar).boxed();
    }
    prop_oneof![
        40 => pick(list),
        chaos => pick(ODD_SCALARS),
        chaos.div_ceil(2) => "\\PC{0,12}",
    ]
    .prop_map(Node::Scalar)
    .boxed()
}

fn key(list: &'static [&'static str], chaos: Chaos) -> BoxedStrategy<String> {
    if chaos == 0 {
        return pick(list).boxed();
    }
    prop_oneof![40 => pick(list), chaos => pick(FORMAT_KEYS), chaos => pick(ODD_SCALARS)].boxed()
}

fn domain_path(chaos: Chaos) -> BoxedStrategy<Node> {
    let plausible = prop_oneof![
        6 => pick(FIELD_NAMES),
        2 => prop::collection::vec(prop::sample::select(FIELD_NAMES), 1..4)
            .prop_map(|p| p.join(".")),
        1 => Just("0".to_owned()),
        1 => Just("total.0.x".to_owned()),
    ];
    if chaos == 0 {
        return plausible.prop_map(Node::Scalar).boxed();
    }
    prop_oneof![20 => plausible, chaos => pick(ODD_SCALARS)]
        .prop_map(Node::Scalar)
        .boxed()
}

fn boolean(chaos: Chaos) -> BoxedStrategy<Node> {
    prop_oneof![
        4 => Just(scalar("true")),
        1 => Just(scalar("false")),
        1 => value(ODD_SCALARS, chaos),
    ]
    .boxed()
}

fn from(path: &str) -> Node {
    map(vec![("from", scalar(path))])
}

fn envelope(name: &str) -> Node {
    map(vec![("envelope", scalar(name))])
}

/// Any node built from the format's words: for keys and values where they do not belong.
fn any_node(chaos: Chaos) -> BoxedStrategy<Node> {
    let leaf = prop_oneof![
        6 => value(ODD_SCALARS, chaos),
        2 => value(FORMAT_KEYS, chaos),
        1 => (0u8..3).prop_map(Node::Alias),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec((key(FORMAT_KEYS, chaos), inner.clone()), 0..4)
                .prop_map(Node::Map),
            prop::collection::vec(inner, 0..4).prop_map(Node::Seq),
        ]
    })
    .boxed()
}

/// A field source of any form (nested `fields:` up to three levels), fitting or not.
fn field_source(chaos: Chaos) -> BoxedStrategy<Node> {
    let leaf = prop_oneof![
        4 => Just(scalar("default")),
        4 => domain_path(chaos).prop_map(|p| map(vec![("from", p)])),
        2 => (domain_path(chaos), value(PATHS, chaos))
            .prop_map(|(p, w)| map(vec![("from", p), ("with", w)])),
        3 => value(ENVELOPE, chaos).prop_map(|e| map(vec![("envelope", e)])),
        3 => value(ODD_SCALARS, chaos).prop_map(|c| map(vec![("const", c)])),
        1 => boolean(chaos).prop_map(|b| map(vec![("default", b)])),
        1 => (domain_path(chaos), boolean(chaos))
            .prop_map(|(p, b)| map(vec![("from", p), ("checked", b)])),
        1 => (
            domain_path(chaos),
            value(PATHS, chaos),
            prop::collection::vec((key(NAMES, chaos), value(ODD_SCALARS, chaos)), 0..3)
        )
            .prop_map(|(p, e, v)| map(vec![("from", p), ("enum", e), ("values", Node::Map(v))])),
        1 => prop::collection::vec((key(FORMAT_KEYS, chaos), value(ODD_SCALARS, chaos)), 0..4)
            .prop_map(Node::Map),
        1 => any_node(chaos),
    ];
    leaf.prop_recursive(3, 32, 6, move |inner| {
        (
            domain_path(chaos),
            prop::collection::vec((key(FIELD_NAMES, chaos), inner), 0..8),
        )
            .prop_map(|(p, fields)| map(vec![("from", p), ("fields", Node::Map(fields))]))
    })
    .boxed()
}

/// The proto type of a field of the example, for a source that fits it.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Id,
    Text,
    Int,
    Version,
    Time,
    Items,
}

const ITEM_FIELDS: &[(&str, Kind)] = &[
    ("product_id", Kind::Text),
    ("store_id", Kind::Text),
    ("product_name", Kind::Text),
    ("unit_price_cents", Kind::Int),
    ("quantity", Kind::Int),
];

/// A domain event of the example, its message and the message's fields.
type Event = (&'static str, &'static str, &'static [(&'static str, Kind)]);

/// The example's domain events, their messages and the messages' fields.
const EVENTS: &[Event] = &[
    (
        "OrderCreated",
        "ordering.v1.OrderCreated",
        &[
            ("id", Kind::Id),
            ("order_id", Kind::Text),
            ("customer_id", Kind::Text),
            ("payment_id", Kind::Text),
            ("items", Kind::Items),
            ("total_cents", Kind::Int),
            ("currency", Kind::Text),
            ("created_at", Kind::Time),
            ("order_version", Kind::Version),
        ],
    ),
    (
        "OrderReadied",
        "ordering.v1.OrderReadied",
        &[
            ("id", Kind::Id),
            ("order_id", Kind::Text),
            ("customer_id", Kind::Text),
            ("payment_id", Kind::Text),
            ("total_cents", Kind::Int),
            ("readied_at", Kind::Time),
            ("order_version", Kind::Version),
        ],
    ),
    (
        "OrderCanceled",
        "ordering.v1.OrderCanceled",
        &[
            ("id", Kind::Id),
            ("order_id", Kind::Text),
            ("customer_id", Kind::Text),
            ("payment_id", Kind::Text),
            ("reason", Kind::Text),
            ("canceled_at", Kind::Time),
            ("order_version", Kind::Version),
        ],
    ),
    (
        "OrderCompleted",
        "ordering.v1.OrderCompleted",
        &[
            ("id", Kind::Id),
            ("order_id", Kind::Text),
            ("customer_id", Kind::Text),
            ("invoice_id", Kind::Text),
            ("completed_at", Kind::Time),
            ("order_version", Kind::Version),
            ("emitted_by", Kind::Text),
        ],
    ),
];

/// A source that fits a field of `kind` (constants quoted as YAML oddities), mostly.
fn fitting(name: &'static str, kind: Kind, chaos: Chaos) -> BoxedStrategy<Node> {
    let fits = match kind {
        Kind::Id => prop_oneof![
            Just(envelope("integration_event_id")),
            Just(envelope("event_id")),
            Just(from(name)),
        ]
        .boxed(),
        Kind::Text => prop_oneof![
            3 => Just(from(name)),
            1 => domain_path(chaos).prop_map(|p| map(vec![("from", p)])),
            2 => pick(ODD_SCALARS).prop_map(|c| map(vec![("const", Node::Scalar(c))])),
            1 => Just(envelope("aggregate_id")),
            1 => Just(envelope("event_name")),
            1 => Just(scalar("default")),
            1 => Just(map(vec![("default", scalar("true"))])),
        ]
        .boxed(),
        Kind::Int => prop_oneof![
            Just(from(name)),
            Just(map(vec![
                ("from", scalar("total")),
                ("with", scalar("crate::domain::money::to_cents")),
            ])),
            prop::sample::select(
                &["0", "-5", "42", "0o17", "012", "9223372036854775807", "1e3"][..]
            )
            .prop_map(|c| map(vec![("const", scalar(c))])),
            Just(map(vec![
                ("from", scalar(name)),
                ("checked", scalar("true"))
            ])),
            Just(scalar("default")),
        ]
        .boxed(),
        Kind::Version => prop_oneof![
            Just(envelope("aggregate_version")),
            Just(from("version")),
            Just(map(vec![("const", scalar("7"))])),
        ]
        .boxed(),
        Kind::Time => prop_oneof![
            Just(envelope("occurred_at")),
            Just(from("at")),
            Just(scalar("default")),
        ]
        .boxed(),
        Kind::Items => prop_oneof![
            1 => Just(scalar("default")),
            4 => message_fields(ITEM_FIELDS, chaos)
                .prop_map(|fields| map(vec![("from", scalar("items")), ("fields", fields)])),
        ]
        .boxed(),
    };
    if chaos == 0 {
        fits
    } else {
        prop_oneof![20 => fits, chaos => field_source(chaos)].boxed()
    }
}

/// A `fields:` map for a message with `fields`: every field with a fitting source, in
/// order; with chaos, some dropped, others added. One value may be anchored and a later one
/// alias it or merge it (`<<: *aN`).
fn message_fields(fields: &'static [(&'static str, Kind)], chaos: Chaos) -> BoxedStrategy<Node> {
    let sources: Vec<BoxedStrategy<(String, Node)>> = fields
        .iter()
        .map(|&(name, kind)| {
            fitting(name, kind, chaos)
                .prop_map(move |source| (name.to_owned(), source))
                .boxed()
        })
        .collect();
    let changes = if chaos == 0 { 0 } else { 3 };
    (
        sources,
        prop::collection::vec(any::<Index>(), 0..=changes),
        prop::collection::vec((key(FIELD_NAMES, chaos), field_source(chaos)), 0..=changes),
        prop::option::weighted(
            0.15,
            (any::<Index>(), any::<Index>(), 0u8..3, any::<bool>()),
        ),
    )
        .prop_map(|(mut entries, drops, extra, alias)| {
            for drop in drops {
                if !entries.is_empty() {
                    entries.remove(drop.index(entries.len()));
                }
            }
            entries.extend(extra);
            if let Some((a, b, n, merge)) = alias
                && entries.len() > 1
            {
                let (a, b) = (a.index(entries.len()), b.index(entries.len()));
                let (a, b) = (a.min(b), a.max(b));
                if a != b {
                    let anchored = std::mem::replace(&mut entries[a].1, Node::Alias(n));
                    entries[a].1 = Node::Anchored(n, Box::new(anchored));
                    match &mut entries[b].1 {
                        Node::Map(own) if merge => own.insert(0, ("<<".to_owned(), Node::Alias(n))),
                        other => *other = Node::Alias(n),
                    }
                }
            }
            Node::Map(entries)
        })
        .boxed()
}

fn integration(event: &'static Event, suffix: &'static str, chaos: Chaos) -> BoxedStrategy<Node> {
    let (domain, message, fields) = *event;
    (
        prop_oneof![
            20 => Just(scalar(&format!("{domain}Event{suffix}"))),
            chaos.max(1) => value(NAMES, chaos),
        ],
        prop_oneof![20 => Just(scalar(message)), chaos.max(1) => value(MESSAGES, chaos)],
        one_of(vec![
            (20, Just(scalar("order")).boxed()),
            (chaos, value(NAMES, chaos)),
        ]),
        prop::option::weighted(
            0.1,
            Just(scalar(&format!("crate::domain::events::{domain}"))),
        ),
        message_fields(fields, chaos),
    )
        .prop_map(|(name, message, channel, rust_type, fields)| {
            let mut entries = vec![("name", name), ("message", message), ("channel", channel)];
            if let Some(t) = rust_type {
                entries.push(("type", t));
            }
            entries.push(("fields", fields));
            map(entries)
        })
        .boxed()
}

/// `events:`: each of the example's domain events, internal, mapped once or twice (a V2 on
/// the same message), or left out; with chaos, extra entries.
fn events(chaos: Chaos) -> BoxedStrategy<Node> {
    let each: Vec<BoxedStrategy<Option<(String, Node)>>> = EVENTS
        .iter()
        .map(|event| {
            let name = event.0;
            prop_oneof![
                2 => Just(None),
                1 => Just(Some((name.to_owned(), scalar("internal")))),
                6 => integration(event, "", chaos)
                    .prop_map(move |i| Some((name.to_owned(), Node::Seq(vec![i])))),
                1 => (integration(event, "", chaos), integration(event, "V2", chaos))
                    .prop_map(move |(a, b)| Some((name.to_owned(), Node::Seq(vec![a, b])))),
            ]
            .boxed()
        })
        .collect();
    let extra = if chaos == 0 { 0 } else { 2 };
    (
        each,
        prop::collection::vec((key(NAMES, chaos), any_node(chaos)), 0..=extra),
    )
        .prop_map(|(each, extra)| Node::Map(each.into_iter().flatten().chain(extra).collect()))
        .boxed()
}

fn channels(chaos: Chaos) -> BoxedStrategy<Node> {
    let order = || {
        map(vec![
            ("subject", scalar("ordering.order")),
            ("stream", scalar("ORDERING_ORDERS")),
        ])
    };
    if chaos == 0 {
        return Just(map(vec![("order", order())])).boxed();
    }
    (
        any::<bool>(),
        prop::collection::vec(
            (
                key(NAMES, chaos),
                value(SUBJECTS, chaos),
                value(SUBJECTS, chaos),
            ),
            0..3,
        ),
        any::<bool>(),
    )
        .prop_map(move |(keep_order, channels, merge)| {
            let mut entries: Vec<(String, Node)> = Vec::new();
            if keep_order {
                entries.push(("order".to_owned(), order()));
            }
            entries.extend(channels.into_iter().map(|(name, subject, stream)| {
                (name, map(vec![("subject", subject), ("stream", stream)]))
            }));
            // `second: { <<: *a0, subject: .. }` after `first: &a0 {..}`.
            if merge && entries.len() > 1 {
                let first = std::mem::replace(&mut entries[0].1, Node::Alias(0));
                entries[0].1 = Node::Anchored(0, Box::new(first));
                if let Node::Map(second) = &mut entries[1].1 {
                    second.retain(|(k, _)| k != "stream");
                    second.insert(0, ("<<".to_owned(), Node::Alias(0)));
                }
            }
            Node::Map(entries)
        })
        .boxed()
}

/// A change to a generated table: drop a top-level key, add one from anywhere, or duplicate.
#[derive(Clone, Debug)]
enum TopChange {
    Remove(Index),
    Insert(Index, String, Node),
    Duplicate(Index),
}

fn top_change(chaos: Chaos) -> BoxedStrategy<TopChange> {
    prop_oneof![
        any::<Index>().prop_map(TopChange::Remove),
        (any::<Index>(), key(FORMAT_KEYS, chaos), any_node(chaos))
            .prop_map(|(i, k, v)| TopChange::Insert(i, k, v)),
        any::<Index>().prop_map(TopChange::Duplicate),
    ]
    .boxed()
}

fn table() -> impl Strategy<Value = String> {
    chaos().prop_flat_map(table_with)
}

fn table_with(chaos: Chaos) -> BoxedStrategy<String> {
    let protos = (
        one_of(vec![
            (20, Just(vec![scalar("proto")]).boxed()),
            (
                chaos,
                prop::collection::vec(
                    value(&["proto", "nope", ".", "", "../proto", "/"], chaos),
                    0..3,
                )
                .boxed(),
            ),
        ]),
        one_of(vec![
            (20, Just(vec![scalar("ordering/v1/events.proto")]).boxed()),
            (
                chaos,
                prop::collection::vec(
                    value(
                        &[
                            "ordering/v1/events.proto",
                            "ordering/v1",
                            "nope.proto",
                            "google/protobuf/timestamp.proto",
                            "",
                        ],
                        chaos,
                    ),
                    0..3,
                )
                .boxed(),
            ),
        ]),
    )
        .prop_map(|(include, files)| {
            map(vec![
                ("include", Node::Seq(include)),
                ("files", Node::Seq(files)),
            ])
        });
    let rust = (
        one_of(vec![
            (20, Just(scalar("crate::domain::events")).boxed()),
            (chaos, value(PATHS, chaos)),
        ]),
        one_of(vec![
            (20, Just(scalar("crate::proto")).boxed()),
            (chaos, value(PATHS, chaos)),
        ]),
        prop::option::weighted(0.3, value(&["generated.rs", "src/x.rs"], chaos)),
    )
        .prop_map(|(domain, proto, output)| {
            let mut entries = vec![("domain_module", domain), ("proto_module", proto)];
            if let Some(o) = output {
                entries.push(("output", o));
            }
            map(entries)
        });
    let top = (
        one_of(vec![
            (20, Just(scalar("1")).boxed()),
            (chaos, value(ODD_SCALARS, chaos)),
        ]),
        one_of(vec![
            (20, Just(scalar("ordering")).boxed()),
            (chaos, value(ODD_SCALARS, chaos)),
        ]),
        protos,
        rust,
        channels(chaos),
        events(chaos),
    )
        .prop_map(|(version, service, protos, rust, channels, events)| {
            vec![
                ("version".to_owned(), version),
                ("service".to_owned(), service),
                ("protos".to_owned(), protos),
                ("rust".to_owned(), rust),
                ("channels".to_owned(), channels),
                ("events".to_owned(), events),
            ]
        });
    // Quoting: plain, with quoted scalars mixed in as chaos grows (a quoted `1` is a string,
    // not the version number).
    let quotes = prop::collection::vec(
        one_of(vec![
            (40, Just(Quote::Plain).boxed()),
            (chaos, Just(Quote::Single).boxed()),
            (chaos, Just(Quote::Double).boxed()),
        ]),
        1..8,
    );
    let changes = if chaos == 0 { 0 } else { 2 };
    (
        top,
        prop::collection::vec(top_change(chaos), 0..=changes),
        0usize..7,
        quotes,
    )
        .prop_map(|(mut entries, changes, block_depth, quotes)| {
            for change in changes {
                match change {
                    TopChange::Remove(i) if !entries.is_empty() => {
                        entries.remove(i.index(entries.len()));
                    }
                    TopChange::Insert(i, k, v) => {
                        let at = i.index(entries.len() + 1);
                        entries.insert(at, (k, v));
                    }
                    TopChange::Duplicate(i) if !entries.is_empty() => {
                        let e = entries[i.index(entries.len())].clone();
                        entries.push(e);
                    }
                    _ => {}
                }
            }
            render(&Node::Map(entries), block_depth, &quotes)
        })
        .boxed()
}

#[test]
fn fuzz_tables_that_look_like_the_format() {
    let fixture = Fixture::new();
    fuzz("format-like tables", &fixture, table(), |text| {
        fixture.check_text(text)
    });
}

// ---------------------------------------------------------------------------------------
// (c) Mutations of the example table (and of the hostile seeds).
// ---------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Mutation {
    DeleteLine(Index),
    DuplicateLine(Index),
    SwapLines(Index, Index),
    /// Replaces the `n`th word of a line.
    ReplaceWord(Index, Index, String),
    /// Inserts text at a character of a line.
    Insert(Index, Index, String),
    /// Indents a line by two more spaces, or removes two.
    Indent(Index, bool),
    /// Replaces the leading spaces of a line with a tab.
    Tab(Index),
    /// Cuts the text at a character.
    Truncate(Index),
}

/// What mutations write: mostly words of the format and of the example's protos.
fn replacement() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => pick(FIELD_NAMES),
        3 => pick(FORMAT_KEYS),
        2 => pick(MESSAGES),
        2 => pick(ENVELOPE),
        2 => pick(NAMES),
        2 => pick(ODD_SCALARS),
        1 => pick(YAML_PIECES),
        1 => Just("&a0".to_owned()),
        1 => Just("*a0".to_owned()),
        1 => Just("<<: *a0".to_owned()),
        1 => "\\PC{0,6}",
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<Index>().prop_map(Mutation::DeleteLine),
        1 => any::<Index>().prop_map(Mutation::DuplicateLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        3 => (any::<Index>(), any::<Index>(), replacement())
            .prop_map(|(l, w, r)| Mutation::ReplaceWord(l, w, r)),
        2 => (any::<Index>(), any::<Index>(), replacement())
            .prop_map(|(l, c, r)| Mutation::Insert(l, c, r)),
        1 => (any::<Index>(), any::<bool>()).prop_map(|(l, more)| Mutation::Indent(l, more)),
        1 => any::<Index>().prop_map(Mutation::Tab),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(text: &str, mutations: &[Mutation]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    for m in mutations {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match m {
            Mutation::DeleteLine(i) => {
                lines.remove(i.index(n));
            }
            Mutation::DuplicateLine(i) => {
                let i = i.index(n);
                lines.insert(i, lines[i].clone());
            }
            Mutation::SwapLines(a, b) => lines.swap(a.index(n), b.index(n)),
            Mutation::ReplaceWord(l, w, r) => {
                // A value more often than a key or a bracket, so that the YAML stays valid.
                let line = &mut lines[l.index(n)];
                let mut words: Vec<String> = line.split(' ').map(str::to_owned).collect();
                let values: Vec<usize> = (0..words.len())
                    .filter(|&i| {
                        let word = words[i].trim_end_matches(',');
                        !word.is_empty() && !word.ends_with(':') && !"{}[]-".contains(word)
                    })
                    .collect();
                let at = if values.is_empty() || w.index(4) == 0 {
                    w.index(words.len())
                } else {
                    values[w.index(values.len())]
                };
                words[at] = r.clone();
                *line = words.join(" ");
            }
            Mutation::Insert(l, c, r) => {
                let line = &mut lines[l.index(n)];
                let mut chars: Vec<char> = line.chars().collect();
                let at = c.index(chars.len() + 1);
                chars.splice(at..at, r.chars());
                *line = chars.into_iter().collect();
            }
            Mutation::Indent(l, more) => {
                let line = &mut lines[l.index(n)];
                if *more {
                    line.insert_str(0, "  ");
                } else if let Some(rest) = line.strip_prefix("  ") {
                    *line = rest.to_owned();
                }
            }
            Mutation::Tab(l) => {
                let line = &mut lines[l.index(n)];
                let body = line.trim_start_matches(' ');
                if body.len() < line.len() {
                    *line = format!("\t{body}");
                }
            }
            Mutation::Truncate(c) => {
                let joined = lines.join("\n");
                let chars: Vec<char> = joined.chars().collect();
                let at = c.index(chars.len() + 1);
                lines = chars[..at]
                    .iter()
                    .collect::<String>()
                    .lines()
                    .map(str::to_owned)
                    .collect();
            }
        }
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The texts mutations start from: mostly the example, sometimes a hostile class rewritten
/// for the example's protos.
fn seed_texts() -> Vec<String> {
    let mut seeds = vec![EXAMPLE.to_owned(); 30];
    let example_head = &EXAMPLE[..EXAMPLE.find("events:").expect("events")];
    seeds.extend([
        String::new(),
        format!("{EXAMPLE}---\n{EXAMPLE}"),
        EXAMPLE.replace("  include:", "\tinclude:"),
        format!("{EXAMPLE}service: ordering\n"),
        format!(
            "{example_head}events:\n  OrderCreated: {}[]{}\n",
            "[".repeat(300),
            "]".repeat(300)
        ),
        EXAMPLE.replace(
            "  order:\n",
            &format!("  ? {}\n  :\n", support::long_name('o', 5000)),
        ),
    ]);
    seeds
}

#[test]
fn fuzz_mutations_of_the_example_table() {
    let fixture = Fixture::new();
    let seeds = seed_texts();
    let strategy = (
        prop::sample::select(seeds),
        prop::collection::vec(mutation(), 1..4),
    )
        .prop_map(|(seed, mutations)| mutate(&seed, &mutations));
    fuzz("mutations of the example", &fixture, strategy, |text| {
        fixture.check_text(text)
    });
}

// ---------------------------------------------------------------------------------------
// The hostile input classes (see `hostile.rs`), as fixed regression cases of the same checks.
// ---------------------------------------------------------------------------------------

#[test]
fn the_hostile_classes_keep_the_invariants() {
    let fixture = Fixture::new();
    let example_head = &EXAMPLE[..EXAMPLE.find("events:").expect("events")];
    let long = support::long_name('a', 100_000);
    let texts = [
        String::new(),
        "\n  \n# comment\n".to_owned(),
        EXAMPLE.to_owned(),
        format!("{EXAMPLE}---\n{EXAMPLE}"),
        format!("{EXAMPLE}---\n"),
        EXAMPLE.replace("  include:", "\tinclude:"),
        format!("{EXAMPLE}service: ordering\n"),
        support::alias_bomb(),
        support::classic_alias_bomb(),
        support::nested_fields(10_000),
        support::nested_sequences(20_000),
        format!("{example_head}events:\n  {long}: []\n"),
        EXAMPLE.replace("  order:\n", &format!("  ? {long}\n  :\n")),
        EXAMPLE.replace("channel: order\n", &format!("channel: {long}\n")),
        EXAMPLE.replace(
            "files: [ordering/v1/events.proto]",
            "files: [ordering/v1/nope.proto]",
        ),
        EXAMPLE.replace("files: [ordering/v1/events.proto]", "files: [ordering/v1]"),
        EXAMPLE.replace(
            "files: [ordering/v1/events.proto]",
            "files: [/etc/hostname]",
        ),
        EXAMPLE.replace("include: [proto]", "include: [nope]"),
    ];
    for text in &texts {
        if let Err(why) = fixture.check_text(text) {
            panic!(
                "{why}\ninput (first 300 characters): {:?}",
                text.chars().take(300).collect::<String>()
            );
        }
    }
    let mut bytes = EXAMPLE.as_bytes().to_vec();
    bytes.splice(40..40, [0xff, 0xfe, b'\n', 0xc3]);
    for bytes in [bytes, vec![0xff], vec![b'a', b':', b' ', 0xe2, 0x82]] {
        fixture
            .check_bytes(&bytes)
            .unwrap_or_else(|why| panic!("{why}\ninput: {bytes:?}"));
    }
}
