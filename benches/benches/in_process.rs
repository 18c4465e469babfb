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
//! The pairs run interleaved: round 1 (generated, hand for each event), round 2, ... The
//! samples are recorded by the benchmark itself (`iter_custom`); at the end it prints, per
//! event, the median time per event of each side over the rounds (each round's value being
//! the median of its samples), the min-max of the rounds, and the ratio generated / hand
//! (median and min-max of the per-round ratios). `EVENTMAP_BENCH_ROUNDS` sets the number of
//! rounds (default 3); `EVENTMAP_BENCH_TABLE` a file to write the table to (Markdown).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use eventmap::AggregateEvent;
use eventmap_benches::hand::HandDispatcher;
use eventmap_benches::stats::Summary;
use eventmap_benches::{NullPublisher, generated_dispatcher, ordering, run_ready, wide};

/// Samples per measurement; the recorded ones are the last this many calls of each routine
/// (criterion's warm-up calls come first).
const SAMPLES: usize = 20;
/// Target generated / hand-written.
const TARGET: f64 = 1.05;

/// `(case, side, round)` -> per-iteration times (ns) of the samples, in call order.
type Records = BTreeMap<(usize, &'static str, usize), Vec<f64>>;

fn main() {
    let rounds: usize = std::env::var("EVENTMAP_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n >= 1)
        .unwrap_or(3);
    let mut criterion = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1_500))
        .sample_size(SAMPLES)
        .without_plots()
        .configure_from_args();

    let mut cases: Vec<(&'static str, AggregateEvent)> = ordering::sample_events("order-1")
        .into_iter()
        .zip([
            "order_created",
            "order_readied",
            "order_canceled",
            "order_completed",
        ])
        .map(|(event, name)| (name, event))
        .collect();
    cases.push(("wide_50_fields", wide::sample_event("account-1").into_dyn()));

    let generated = generated_dispatcher(Arc::new(NullPublisher));
    let hand = HandDispatcher::new(Arc::new(NullPublisher));
    let records = RefCell::new(Records::new());

    for round in 1..=rounds {
        for (case, (name, event)) in cases.iter().enumerate() {
            let events = std::slice::from_ref(event);
            let mut group = criterion.benchmark_group(format!("in_process/{name}"));
            group.bench_function(BenchmarkId::new("generated", format!("r{round}")), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        run_ready(generated.publish(black_box(events))).expect("generated");
                    }
                    let elapsed = start.elapsed();
                    record(&records, (case, "generated", round), iters, elapsed);
                    elapsed
                })
            });
            group.bench_function(BenchmarkId::new("hand", format!("r{round}")), |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        run_ready(hand.publish(black_box(events))).expect("hand");
                    }
                    let elapsed = start.elapsed();
                    record(&records, (case, "hand", round), iters, elapsed);
                    elapsed
                })
            });
            group.finish();
        }
    }
    criterion.final_summary();

    let names: Vec<&str> = cases.iter().map(|(name, _)| *name).collect();
    let table = table(&names, rounds, &records.into_inner());
    println!("\n{table}");
    if let Some(path) = std::env::var_os("EVENTMAP_BENCH_TABLE") {
        if let Err(err) = std::fs::write(&path, &table) {
            eprintln!("cannot write {}: {err}", path.to_string_lossy());
        }
    }
}

fn record(
    records: &RefCell<Records>,
    key: (usize, &'static str, usize),
    iters: u64,
    elapsed: Duration,
) {
    if iters > 0 {
        records
            .borrow_mut()
            .entry(key)
            .or_default()
            .push(elapsed.as_nanos() as f64 / iters as f64);
    }
}

/// The median per-event time of one side in one round (its last [`SAMPLES`] samples).
fn round_median(records: &Records, key: (usize, &'static str, usize)) -> Option<f64> {
    let samples = records.get(&key)?;
    let measured = &samples[samples.len().saturating_sub(SAMPLES)..];
    Summary::of(measured).map(|s| s.median)
}

fn table(names: &[&str], rounds: usize, records: &Records) -> String {
    let mut out = String::from(
        "| event | generated ns/event | hand-written ns/event | generated / hand | target <= 1.05 |\n\
         |---|---|---|---|---|\n",
    );
    for (case, name) in names.iter().enumerate() {
        let mut generated = Vec::new();
        let mut hand = Vec::new();
        let mut ratios = Vec::new();
        for round in 1..=rounds {
            let g = round_median(records, (case, "generated", round));
            let h = round_median(records, (case, "hand", round));
            if let (Some(g), Some(h)) = (g, h) {
                generated.push(g);
                hand.push(h);
                ratios.push(g / h);
            }
        }
        let (Some(g), Some(h), Some(r)) = (
            Summary::of(&generated),
            Summary::of(&hand),
            Summary::of(&ratios),
        ) else {
            continue;
        };
        let met = if r.median <= TARGET { "met" } else { "MISSED" };
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {met} |\n",
            g.display(0),
            h.display(0),
            r.display(3)
        ));
    }
    out.push_str(&format!(
        "\nmedian [min-max] over {rounds} interleaved rounds; each round's value is the median of {SAMPLES} criterion samples.\n"
    ));
    out
}
