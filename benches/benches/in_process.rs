//! In process: convert + dispatch + encode one domain event into an integration message,
//! through the generated code vs hand-written glue, on the same event.
//!
//! ```sh
//! flock /tmp/eventmap-cargo.lock cargo bench -p eventmap-benches --bench in_process
//! ```
//!
//! * `generated`: the generated routers of the two tables (`DomainEventRouter` of the ordering
//!   example and of the wide event, as a tuple; [`eventmap_benches::GeneratedRouter`]): a
//!   `match` on the payload type and the name, the `IntegrationEventHandler` of the row
//!   downcasts the payload, runs the generated converter, encodes the proto message and builds
//!   the CloudEvents message.
//! * `dispatcher`: `EventDispatcher::publish(&[event])` with the handlers registered by the
//!   generated `register_integration_event_handlers` (the dynamic routing, for handlers
//!   registered at run time): the dispatcher looks the handlers up by type, then the same.
//! * `hand`: [`eventmap_benches::hand::HandDispatcher`]: a `match` on the event name, a
//!   downcast, a hand-written `TryFrom`/`From`, the same message building.
//!
//! Both hand the message to a publisher that drops it ([`eventmap_benches::NullPublisher`]);
//! the futures never wait, so each iteration is polled once, without an executor. A tracing
//! subscriber logging at WARN is installed (writing nowhere), as in a service logging at WARN:
//! the spans of the generated side are disabled. `EVENTMAP_BENCH_SUBSCRIBER=none` runs without
//! any subscriber instead; then, because a dependency (sqlx) turns on tracing's `log` feature,
//! tracing evaluates the fields of every disabled span and logs span activity for the `log`
//! crate, which a service with a subscriber does not pay.
//!
//! Two measurements:
//!
//! 1. criterion, as usual (`target/criterion/in_process/...`), one function per side and
//!    event; its median per event is printed in the table for reference.
//! 2. The ratios come from paired runs, immune to the drifts of a shared machine:
//!    `EVENTMAP_BENCH_RUNS` runs (default 5) per event, each of [`PAIRS`] rounds of blocks
//!    (a block of iterations of each side, about [`BLOCK`] each, the order rotated every
//!    round). A run's figure per side is its total time over its iterations; the table gives
//!    the median and min-max over the runs, and of the per-run ratios generated / hand-written
//!    and dispatcher / hand-written.
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
use eventmap::dispatcher::publish_routed;
use eventmap_benches::hand::HandDispatcher;
use eventmap_benches::stats::Summary;
use eventmap_benches::summary;
use eventmap_benches::{
    NullPublisher, generated_dispatcher, generated_router, ordering, run_ready, wide,
};

/// Samples per criterion measurement; the recorded ones are the last this many calls of each
/// routine (criterion's warm-up calls come first).
const SAMPLES: usize = 20;
/// Rounds of blocks (one block per side) per paired run.
const PAIRS: usize = 200;
/// Target duration of one block of a paired run.
const BLOCK: Duration = Duration::from_micros(500);
/// Target generated / hand-written.
const TARGET: f64 = 1.05;

/// One side of the comparison, by name: runs one dispatch of the events it is given.
type Side<'a> = (&'static str, &'a dyn Fn(&[AggregateEvent]));

/// `(case, side)` -> per-iteration times (ns) of criterion's samples, in call order.
type Records = BTreeMap<(usize, &'static str), Vec<f64>>;

/// One benchmarked event and the two sides.
struct Case<'a> {
    name: &'static str,
    events: &'a [AggregateEvent],
}

fn main() {
    if std::env::var("EVENTMAP_BENCH_SUBSCRIBER").as_deref() != Ok("none") {
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_writer(std::io::sink)
            .init();
    }
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

    let generated = generated_router(Arc::new(NullPublisher));
    let dispatcher = generated_dispatcher(Arc::new(NullPublisher));
    let hand = HandDispatcher::new(Arc::new(NullPublisher));
    let run_generated = |events: &[AggregateEvent]| {
        run_ready(publish_routed(&generated, black_box(events))).expect("generated");
    };
    let run_dispatcher = |events: &[AggregateEvent]| {
        run_ready(dispatcher.publish(black_box(events))).expect("dispatcher");
    };
    let run_hand = |events: &[AggregateEvent]| {
        run_ready(hand.publish(black_box(events))).expect("hand");
    };

    let sides: [Side<'_>; 3] = [
        ("generated", &run_generated),
        ("dispatcher", &run_dispatcher),
        ("hand", &run_hand),
    ];
    if let Ok(profile) = std::env::var("EVENTMAP_BENCH_PROFILE") {
        profile_one(&profile, &cases, &sides);
        return;
    }

    // 1. criterion.
    let records = RefCell::new(Records::new());
    for (index, case) in cases.iter().enumerate() {
        let mut group = criterion.benchmark_group(format!("in_process/{}", case.name));
        for (side, run) in sides {
            group.bench_function(side, |b| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        run(case.events);
                    }
                    let elapsed = start.elapsed();
                    record(&records, (index, side), iters, elapsed);
                    elapsed
                })
            });
        }
        group.finish();
    }
    criterion.final_summary();
    let records = records.into_inner();

    // 2. Paired runs.
    let mut rows = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let block = calibrate(|| run_hand(case.events));
        let mut ns: [Vec<f64>; 3] = Default::default();
        let mut ratios = Vec::new();
        let mut dispatcher_ratios = Vec::new();
        for _ in 0..runs {
            let [g, d, h] = paired(
                block,
                [
                    &mut || run_generated(case.events),
                    &mut || run_dispatcher(case.events),
                    &mut || run_hand(case.events),
                ],
            );
            for (side, value) in ns.iter_mut().zip([g, d, h]) {
                side.push(value);
            }
            ratios.push(g / h);
            dispatcher_ratios.push(d / h);
        }
        let [generated_ns, dispatcher_ns, hand_ns] = ns;
        rows.push(Row {
            name: case.name,
            generated: Summary::of(&generated_ns),
            dispatcher: Summary::of(&dispatcher_ns),
            hand: Summary::of(&hand_ns),
            ratio: Summary::of(&ratios),
            dispatcher_ratio: Summary::of(&dispatcher_ratios),
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
    let ns = |s: Option<Summary>| {
        s.map_or_else(|| "-".to_owned(), |s| format!("{} ns/event", s.display(0)))
    };
    rows.iter()
        .map(|row| {
            summary::Row::ratio(
                format!(
                    "in process: {} through the generated DomainEventRouter / hand-written",
                    row.name
                ),
                ns(row.generated),
                ns(row.hand),
                row.ratio,
                summary::Target::AtMost(TARGET),
            )
        })
        .collect()
}

/// Iterations of one side on one event in [`profile_one`], unless
/// `EVENTMAP_BENCH_PROFILE_ITERATIONS` gives another number (more for `perf stat`).
const PROFILE_ITERATIONS: u64 = 10_000;

/// `EVENTMAP_BENCH_PROFILE=<event>/<side>` (e.g. `order_canceled/generated`): runs only
/// [`PROFILE_ITERATIONS`] iterations of that side on that event, for a profiler
/// (`valgrind --tool=callgrind`: instructions per event = total / iterations, after
/// subtracting a run with `<event>/none`, which only sets up).
fn profile_one(profile: &str, cases: &[Case<'_>], sides: &[Side<'_>]) {
    let (event, side) = profile.split_once('/').unwrap_or((profile, "none"));
    let Some(case) = cases.iter().find(|case| case.name == event) else {
        eprintln!("EVENTMAP_BENCH_PROFILE: no event `{event}`");
        std::process::exit(2);
    };
    let run = match sides.iter().find(|(name, _)| *name == side) {
        Some((_, run)) => *run,
        None if side == "none" => return,
        None => {
            eprintln!(
                "EVENTMAP_BENCH_PROFILE: no side `{side}` (generated, dispatcher, hand, none)"
            );
            std::process::exit(2);
        }
    };
    let iterations = std::env::var("EVENTMAP_BENCH_PROFILE_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(PROFILE_ITERATIONS);
    for _ in 0..iterations {
        run(case.events);
    }
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

/// One paired run: [`PAIRS`] rounds of `block` iterations of each side, the order rotated
/// every round. Returns the ns per iteration of each side.
fn paired<const N: usize>(block: u64, mut sides: [&mut dyn FnMut(); N]) -> [f64; N] {
    let mut times = [Duration::ZERO; N];
    for round in 0..PAIRS {
        for k in 0..N {
            let side = (round + k) % N;
            let f = &mut sides[side];
            let start = Instant::now();
            for _ in 0..block {
                f();
            }
            times[side] += start.elapsed();
        }
    }
    let iterations = (block * PAIRS as u64) as f64;
    times.map(|time| time.as_nanos() as f64 / iterations)
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
    dispatcher: Option<Summary>,
    hand: Option<Summary>,
    ratio: Option<Summary>,
    dispatcher_ratio: Option<Summary>,
    criterion_generated: Option<f64>,
    criterion_hand: Option<f64>,
}

fn table(rows: &[Row], runs: usize) -> String {
    let mut out = String::from(
        "| event | generated ns/event | EventDispatcher ns/event | hand-written ns/event | generated / hand | target <= 1.05 | EventDispatcher / hand | criterion: generated, hand ns |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let ns = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.0}"));
    for row in rows {
        let (Some(g), Some(d), Some(h), Some(r), Some(dr)) = (
            row.generated,
            row.dispatcher,
            row.hand,
            row.ratio,
            row.dispatcher_ratio,
        ) else {
            continue;
        };
        let met = if r.median <= TARGET { "met" } else { "MISSED" };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {met} | {} | {}, {} |\n",
            row.name,
            g.display(0),
            d.display(0),
            h.display(0),
            r.display(3),
            dr.display(3),
            ns(row.criterion_generated),
            ns(row.criterion_hand),
        ));
    }
    out.push_str(&format!(
        "\nmedian [min-max] over {runs} paired runs ({PAIRS} rounds of ~{} µs blocks of each side, order rotated).\n",
        BLOCK.as_micros()
    ));
    out
}
