//! In process: convert + dispatch + encode one domain event into an integration message,
//! through the generated code vs hand-written glue, on the same event.
//!
//! ```sh
//! flock /tmp/eventmap-cargo.lock cargo bench -p eventmap-benches --bench in_process
//! ```
//!
//! * `generated`: `EventDispatcher::publish(&[event])` with the handlers registered by the
//!   generated `register_integration_event_handlers` (ordering example and wide event): the
//!   dispatcher finds the handler, the `IntegrationEventHandler` downcasts the payload, runs
//!   the generated converter, encodes the proto message and builds the CloudEvents message.
//! * `hand`: [`eventmap_benches::hand::HandDispatcher`]: a `match` on the event name, a
//!   downcast, a hand-written `TryFrom`/`From`, the same message building.
//!
//! Both hand the message to a publisher that drops it ([`eventmap_benches::NullPublisher`]);
//! the futures never wait, so each iteration is polled once, without an executor. No tracing
//! subscriber is installed (spans are disabled, as in a service logging at WARN).
//!
//! Two measurements:
//!
//! 1. criterion, as usual (`target/criterion/in_process/...`), one function per side and
//!    event; its median per event is printed in the table for reference.
//! 2. The ratios come from paired runs, immune to the drifts of a shared machine:
//!    `EVENTMAP_BENCH_RUNS` runs (default 5) per event, each of [`PAIRS`] pairs of blocks
//!    (a block of generated iterations then one of hand-written iterations, the order
//!    swapped every pair, about [`BLOCK`] each). A run's figure per side is its total time
//!    over its iterations; the table gives the median and min-max over the runs, and of the
//!    per-run ratios generated / hand-written.
//!
//! `EVENTMAP_BENCH_TABLE` names a file to write the table to (Markdown), `EVENTMAP_BENCH_SUMMARY`
//! one to write its rows of `./benches/run.sh`'s summary table to.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use eventmap::AggregateEvent;
use eventmap_benches::hand::HandDispatcher;
use eventmap_benches::stats::Summary;
use eventmap_benches::summary;
use eventmap_benches::{NullPublisher, generated_dispatcher, ordering, run_ready, wide};

/// Samples per criterion measurement; the recorded ones are the last this many calls of each
/// routine (criterion's warm-up calls come first).
const SAMPLES: usize = 20;
/// Pairs of blocks per paired run.
const PAIRS: usize = 200;
/// Target duration of one block of a paired run.
const BLOCK: Duration = Duration::from_micros(500);
/// Target generated / hand-written.
const TARGET: f64 = 1.05;

/// `(case, side)` -> per-iteration times (ns) of criterion's samples, in call order.
type Records = BTreeMap<(usize, &'static str), Vec<f64>>;

/// One benchmarked event and the two sides.
struct Case<'a> {
    name: &'static str,
    events: &'a [AggregateEvent],
}

fn main() {
    let runs: usize = std::env::var("EVENTMAP_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(5);
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1_500))
        .sample_size(SAMPLES)
        .without_plots()
        .configure_from_args();

    let mut events: Vec<(&'static str, AggregateEvent)> = ordering::sample_events("order-1")
        .into_iter()
        .zip([
            "order_created",
            "order_readied",
            "order_canceled",
            "order_completed",
        ])
        .map(|(event, name)| (name, event))
        .collect();
    events.push(("wide_50_fields", wide::sample_event("account-1").into_dyn()));
    let cases: Vec<Case<'_>> = events
        .iter()
        .map(|(name, event)| Case {
            name,
            events: std::slice::from_ref(event),
        })
        .collect();

    let generated = generated_dispatcher(Arc::new(NullPublisher));
    let hand = HandDispatcher::new(Arc::new(NullPublisher));
    let run_generated = |events: &[AggregateEvent]| {
        run_ready(generated.publish(black_box(events))).expect("generated");
    };
    let run_hand = |events: &[AggregateEvent]| {
        run_ready(hand.publish(black_box(events))).expect("hand");
    };

    // 1. criterion.
    let records = RefCell::new(Records::new());
    for (index, case) in cases.iter().enumerate() {
        let mut group = criterion.benchmark_group(format!("in_process/{}", case.name));
        group.bench_function("generated", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    run_generated(case.events);
                }
                let elapsed = start.elapsed();
                record(&records, (index, "generated"), iters, elapsed);
                elapsed
            })
        });
        group.bench_function("hand", |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                for _ in 0..iters {
                    run_hand(case.events);
                }
                let elapsed = start.elapsed();
                record(&records, (index, "hand"), iters, elapsed);
                elapsed
            })
        });
        group.finish();
    }
    criterion.final_summary();
    let records = records.into_inner();

    // 2. Paired runs.
    let mut rows = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let block = calibrate(|| run_hand(case.events));
        let mut generated_ns = Vec::new();
        let mut hand_ns = Vec::new();
        let mut ratios = Vec::new();
        for _ in 0..runs {
            let (g, h) = paired(
                block,
                || run_generated(case.events),
                || run_hand(case.events),
            );
            generated_ns.push(g);
            hand_ns.push(h);
            ratios.push(g / h);
        }
        rows.push(Row {
            name: case.name,
            generated: Summary::of(&generated_ns),
            hand: Summary::of(&hand_ns),
            ratio: Summary::of(&ratios),
            criterion_generated: criterion_median(&records, (index, "generated")),
            criterion_hand: criterion_median(&records, (index, "hand")),
        });
    }
    let table = table(&rows, runs);
    println!("\n{table}");
    if let Some(path) = std::env::var_os("EVENTMAP_BENCH_TABLE")
        && let Err(err) = std::fs::write(&path, &table)
    {
        eprintln!("cannot write {}: {err}", path.to_string_lossy());
    }
    if let Some(path) = std::env::var_os("EVENTMAP_BENCH_SUMMARY")
        && let Err(err) = summary::write(path.as_ref(), &summary_rows(&rows))
    {
        eprintln!("cannot write {}: {err}", path.to_string_lossy());
    }
}

/// The rows of `./benches/run.sh`'s summary table: generated / hand-written per event.
fn summary_rows(rows: &[Row]) -> Vec<summary::Row> {
    let ns = |s: Option<Summary>| s.map_or_else(|| "-".to_owned(), |s| format!("{} ns/event", s.display(0)));
    rows.iter()
        .map(|row| {
            summary::Row::ratio(
                format!("in process: {} through the generated code / hand-written", row.name),
                ns(row.generated),
                ns(row.hand),
                row.ratio,
                summary::Target::AtMost(TARGET),
            )
        })
        .collect()
}

/// Iterations of `f` that take about [`BLOCK`].
fn calibrate(mut f: impl FnMut()) -> u64 {
    let probe = 1_000;
    let start = Instant::now();
    for _ in 0..probe {
        f();
    }
    let per_iter = start.elapsed().as_secs_f64() / probe as f64;
    ((BLOCK.as_secs_f64() / per_iter) as u64).max(1)
}

/// One paired run: [`PAIRS`] pairs of `block` iterations of each side, the order swapped
/// every pair. Returns the ns per iteration of each side.
fn paired(block: u64, mut generated: impl FnMut(), mut hand: impl FnMut()) -> (f64, f64) {
    let mut generated_time = Duration::ZERO;
    let mut hand_time = Duration::ZERO;
    let time = |f: &mut dyn FnMut(), total: &mut Duration| {
        let start = Instant::now();
        for _ in 0..block {
            f();
        }
        *total += start.elapsed();
    };
    for pair in 0..PAIRS {
        if pair % 2 == 0 {
            time(&mut generated, &mut generated_time);
            time(&mut hand, &mut hand_time);
        } else {
            time(&mut hand, &mut hand_time);
            time(&mut generated, &mut generated_time);
        }
    }
    let iterations = (block * PAIRS as u64) as f64;
    (
        generated_time.as_nanos() as f64 / iterations,
        hand_time.as_nanos() as f64 / iterations,
    )
}

fn record(records: &RefCell<Records>, key: (usize, &'static str), iters: u64, elapsed: Duration) {
    if iters > 0 {
        records
            .borrow_mut()
            .entry(key)
            .or_default()
            .push(elapsed.as_nanos() as f64 / iters as f64);
    }
}

/// The median of criterion's samples (the last [`SAMPLES`] calls) of one side.
fn criterion_median(records: &Records, key: (usize, &'static str)) -> Option<f64> {
    let samples = records.get(&key)?;
    let measured = &samples[samples.len().saturating_sub(SAMPLES)..];
    Summary::of(measured).map(|s| s.median)
}

struct Row {
    name: &'static str,
    generated: Option<Summary>,
    hand: Option<Summary>,
    ratio: Option<Summary>,
    criterion_generated: Option<f64>,
    criterion_hand: Option<f64>,
}

fn table(rows: &[Row], runs: usize) -> String {
    let mut out = String::from(
        "| event | generated ns/event | hand-written ns/event | generated / hand | target <= 1.05 | criterion: generated, hand ns |\n\
         |---|---|---|---|---|---|\n",
    );
    let ns = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    for row in rows {
        let (Some(g), Some(h), Some(r)) = (row.generated, row.hand, row.ratio) else {
            continue;
        };
        let met = if r.median <= TARGET { "met" } else { "MISSED" };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {met} | {}, {} |\n",
            row.name,
            g.display(0),
            h.display(0),
            r.display(3),
            ns(row.criterion_generated),
            ns(row.criterion_hand),
        ));
    }
    out.push_str(&format!(
        "\nmedian [min-max] over {runs} paired runs ({PAIRS} interleaved pairs of ~{} µs blocks each).\n",
        BLOCK.as_micros()
    ));
    out
}
