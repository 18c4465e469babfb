//! How long `eventmap check` and `generate` take on large tables, against the time protox
//! alone takes to compile the same protos. Not a test: the figures go to `BENCHMARKS.md`.
//!
//! ```sh
//! flock /tmp/eventmap-cargo.lock cargo bench -p eventmap-codegen --bench check
//! # one size or one measurement: criterion's filter
//! flock /tmp/eventmap-cargo.lock cargo bench -p eventmap-codegen --bench check -- 'check/1000$'
//! ```
//!
//! For 10, 100, 1,000 and 10,000 events it writes a project into a temporary folder: protos of
//! 100 event messages per file (10 fields each: envelope values, domain values, a conversion
//! function, an enum constant, a default, and a repeated nested `Item` message mapped field
//! by field), one channel per file, and the mapping table. It then measures:
//!
//! - `check`: [`eventmap_codegen::analyze`] (read the table, compile the protos, validate);
//! - `check+generate`: the same plus [`eventmap_codegen::Analysis::generate`];
//! - `protox`: `protox::Compiler` with source info on the same files, then `descriptor_pool()`.
//!
//! The group `phases` splits `check` of 1,000 events into its steps: the YAML parse into the
//! table (`table::parse`), serde-saphyr's parse alone (into a `serde_json::Value`: the floor
//! for any typed reading), the protos (`ProtoSet::compile`), the proto name collision check
//! (`proto_names::check`) and the whole validation (`validate::check`, which includes it).
//!
//! A last group, `hostile`, times the inputs of `tests/hostile.rs` that do the most work
//! (alias bomb, 20,000-deep nesting, 100k-character names), which must stay well under a second.
//!
//! At the end it prints, per measurement, the median and the min-max of the time per
//! iteration taken from criterion's samples (`target/criterion/<group>/<size>/new/sample.json`:
//! the last run of each, so a filtered run shows older figures for the others), and the ratio
//! of `check` to `protox`.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, SamplingMode};

/// Event messages per `.proto` file (and events per channel).
const EVENTS_PER_FILE: usize = 100;

/// Sizes measured, with the number of samples criterion takes for each (10 is its minimum;
/// one sample of 10,000 events is one run of a few seconds).
const SIZES: &[(usize, usize)] = &[(10, 50), (100, 30), (1_000, 10), (10_000, 10)];

/// A generated project: the table and the protos, in a temporary folder.
struct Project {
    _dir: tempfile::TempDir,
    table: PathBuf,
    include: PathBuf,
    files: Vec<String>,
}

fn project(events: usize) -> Project {
    let dir = tempfile::tempdir().expect("tempdir");
    let include = dir.path().join("proto");
    let package_dir = include.join("bench/v1");
    std::fs::create_dir_all(&package_dir).expect("mkdir");
    std::fs::write(
        package_dir.join("common.proto"),
        "syntax = \"proto3\";\npackage bench.v1;\n\n// State of an order.\nenum Status {\n  STATUS_UNSPECIFIED = 0;\n  STATUS_READY = 1;\n  STATUS_DONE = 2;\n}\n",
    )
    .expect("write common.proto");
    let file_count = events.div_ceil(EVENTS_PER_FILE);
    let mut files = Vec::new();
    let mut table =
        String::from("version: 1\nservice: bench\nprotos:\n  include: [proto]\n  files:\n");
    for f in 0..file_count {
        let name = format!("bench/v1/events_{f:03}.proto");
        let _ = writeln!(table, "    - {name}");
        let mut proto = String::from(
            "syntax = \"proto3\";\npackage bench.v1;\n\nimport \"google/protobuf/timestamp.proto\";\nimport \"bench/v1/common.proto\";\n",
        );
        for e in f * EVENTS_PER_FILE..((f + 1) * EVENTS_PER_FILE).min(events) {
            let _ = write!(
                proto,
                "\n// Event number {e}.\nmessage Event{e} {{\n  // One line of the event.\n  message Item {{\n    string sku = 1;\n    int32 quantity = 2;\n    int64 price_cents = 3;\n  }}\n  string id = 1;\n  string order_id = 2;\n  uint64 version = 3;\n  google.protobuf.Timestamp occurred_at = 4;\n  string customer_id = 5;\n  int64 total_cents = 6;\n  string currency = 7;\n  Status status = 8;\n  string note = 9;\n  repeated Item items = 10;\n}}\n"
            );
        }
        std::fs::write(include.join(&name), proto).expect("write proto");
        files.push(name);
    }
    table.push_str("rust:\n  domain_module: crate::domain\n  proto_module: crate::proto\n  output: generated.rs\nchannels:\n");
    for f in 0..file_count {
        let _ = writeln!(
            table,
            "  c{f}: {{ subject: bench.c{f}, stream: BENCH_C{f} }}"
        );
    }
    table.push_str("events:\n");
    for e in 0..events {
        let f = e / EVENTS_PER_FILE;
        let _ = write!(
            table,
            "  Event{e}:
    - name: Event{e}Happened
      message: bench.v1.Event{e}
      channel: c{f}
      fields:
        id: {{ envelope: integration_event_id }}
        order_id: {{ envelope: aggregate_id }}
        version: {{ envelope: aggregate_version }}
        occurred_at: {{ envelope: occurred_at }}
        customer_id: {{ from: customer_id }}
        total_cents: {{ from: total, with: crate::money::to_cents }}
        currency: {{ from: total.currency }}
        status: {{ const: STATUS_READY }}
        note: default
        items:
          from: items
          fields:
            sku: {{ from: sku }}
            quantity: {{ from: quantity }}
            price_cents: {{ from: price, with: crate::money::to_cents }}
"
        );
    }
    let table_path = dir.path().join("mappings.yaml");
    std::fs::write(&table_path, table).expect("write table");
    Project {
        _dir: dir,
        table: table_path,
        include,
        files,
    }
}

fn check(project: &Project) -> eventmap_codegen::Analysis {
    let analysis = eventmap_codegen::analyze(&project.table).expect("readable");
    assert!(!analysis.has_errors(), "{}", analysis.render());
    analysis
}

fn protox_alone(project: &Project) -> prost_reflect::DescriptorPool {
    let mut compiler = protox::Compiler::new([&project.include]).expect("compiler");
    compiler.include_source_info(true).include_imports(true);
    compiler.open_files(&project.files).expect("protos compile");
    compiler.descriptor_pool()
}

fn sizes(c: &mut Criterion) {
    for &(events, samples) in SIZES {
        let project = project(events);
        let mut run = |name: &str, f: &dyn Fn()| {
            let mut group = c.benchmark_group(name);
            group
                .sampling_mode(SamplingMode::Flat)
                .sample_size(samples)
                .warm_up_time(Duration::from_millis(500))
                .measurement_time(Duration::from_secs(3));
            group.bench_function(BenchmarkId::from_parameter(events), |b| b.iter(f));
            group.finish();
        };
        run("check", &|| {
            black_box(check(&project));
        });
        run("check+generate", &|| {
            black_box(check(&project).generate().expect("generate"));
        });
        run("protox", &|| {
            black_box(protox_alone(&project));
        });
    }
}

/// The steps of `check` on 1,000 events, each alone.
fn phases(c: &mut Criterion) {
    use eventmap_codegen::__private::{ProtoSet, parse_table, table_dir, validate};
    use eventmap_codegen::Sources;
    let project = project(1_000);
    let text = std::fs::read_to_string(&project.table).expect("table");
    let base = table_dir(&project.table);
    let parsed = parse_table(&project.table, &text).expect("parses");
    let includes: Vec<String> = parsed
        .protos
        .include
        .iter()
        .map(|s| s.value.clone())
        .collect();
    let files: Vec<String> = parsed
        .protos
        .files
        .iter()
        .map(|s| s.value.clone())
        .collect();
    let compile = || {
        ProtoSet::compile(&base, &base, &includes, &files, &mut Sources::default())
            .expect("protos compile")
    };
    let set = compile();
    let mut group = c.benchmark_group("phases");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("yaml-table", |b| {
        b.iter(|| black_box(parse_table(&project.table, &text).expect("parses")));
    });
    group.bench_function("yaml-untyped", |b| {
        b.iter(|| {
            let options = serde_saphyr::options! {
                budget: serde_saphyr::budget! { max_nodes: 10_000_000, max_events: 30_000_000 },
            };
            let value: serde_json::Value =
                serde_saphyr::from_str_with_options(&text, options).expect("parses");
            black_box(value)
        });
    });
    group.bench_function("protos", |b| b.iter(|| black_box(compile())));
    group.bench_function("proto-names", |b| {
        b.iter(|| black_box(eventmap_codegen::__private::check_proto_names(&set)));
    });
    group.bench_function("validate", |b| {
        b.iter(|| black_box(validate(&parsed, &project.table, &base, &set)));
    });
    group.finish();
}

/// The expensive hostile inputs: each is refused with one `yaml` or name diagnostic.
fn hostile(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let proto = dir.path().join("proto");
    std::fs::create_dir_all(&proto).expect("mkdir");
    std::fs::write(
        proto.join("shop.proto"),
        "syntax = \"proto3\";\npackage shop;\nmessage Placed {\n  string id = 1;\n  repeated Placed items = 2;\n}\n",
    )
    .expect("write proto");
    let table = dir.path().join("mappings.yaml");
    let head = "version: 1\nservice: shop\nprotos:\n  include: [proto]\n  files: [shop.proto]\nrust:\n  domain_module: crate::domain\n  proto_module: crate::proto\n";
    let event = |fields: &str| {
        format!(
            "events:\n  Placed:\n    - name: PlacedEvent\n      message: shop.Placed\n      channel: orders\n      fields:\n{fields}"
        )
    };
    let channels = "channels:\n  orders: { subject: shop.orders, stream: SHOP }\n";
    // Nine keys per level, each aliasing the level below: 9^8 nested field maps.
    let mut bomb = String::new();
    for level in 0..8 {
        let inner = if level == 0 {
            "{}".to_owned()
        } else {
            format!("*f{}", level - 1)
        };
        let keys: Vec<String> = (0..9)
            .map(|k| format!("k{k}: {{from: x, fields: {inner}}}"))
            .collect();
        let _ = writeln!(
            bomb,
            "        l{level}: {{from: x, fields: &f{level} {{{}}}}}",
            keys.join(", ")
        );
    }
    let deep = format!(
        "        id: default\n        items: {}default{}\n",
        "{from: x, fields: {items: ".repeat(20_000),
        "}}".repeat(20_000)
    );
    let long_a = "a".repeat(100_000);
    let long_b = "b".repeat(100_000);
    let long_names = format!(
        "{head}channels:\n  ? {long_a}\n  : {{ subject: shop.orders, stream: SHOP }}\n{}",
        event(&format!(
            "        id: default\n        items: default\n        ? {long_b}\n        : default\n"
        ))
        .replace("channel: orders", &format!("channel: {long_b}"))
    );
    let cases = [
        ("alias-bomb", format!("{head}{channels}{}", event(&bomb))),
        ("nesting-20000", format!("{head}{channels}{}", event(&deep))),
        ("names-100k", long_names),
    ];
    let mut group = c.benchmark_group("hostile");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(2));
    for (name, text) in &cases {
        let analysis = eventmap_codegen::analyze_str(&table, text);
        assert!(analysis.has_errors(), "{name} should be refused");
        group.bench_function(*name, |b| {
            b.iter(|| black_box(eventmap_codegen::analyze_str(&table, text)));
        });
    }
    group.finish();
}

/// Median, min and max time per iteration of one measurement, from criterion's samples.
fn stats(dir: &Path, group: &str, id: &str) -> Option<(f64, f64, f64)> {
    let path = dir.join(group).join(id).join("new/sample.json");
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).ok()?).ok()?;
    let numbers = |key: &str| -> Option<Vec<f64>> {
        json.get(key)?
            .as_array()?
            .iter()
            .map(|v| v.as_f64())
            .collect()
    };
    let (iters, times) = (numbers("iters")?, numbers("times")?);
    let mut per_iter: Vec<f64> = iters.iter().zip(&times).map(|(n, t)| t / n / 1e6).collect();
    per_iter.sort_by(f64::total_cmp);
    let median = per_iter[per_iter.len() / 2];
    Some((median, per_iter[0], per_iter[per_iter.len() - 1]))
}

fn summary(dir: &Path) {
    let mut out = String::from(
        "\n| events | check median (min-max) | check+generate median (min-max) | protox median (min-max) | check / protox |\n|---|---|---|---|---|\n",
    );
    let cell = |s: Option<(f64, f64, f64)>| match s {
        Some((m, lo, hi)) => format!("{m:.1} ms ({lo:.1}-{hi:.1})"),
        None => "-".to_owned(),
    };
    for &(events, _) in SIZES {
        let id = events.to_string();
        let check = stats(dir, "check", &id);
        let generate = stats(dir, "check+generate", &id);
        let protox = stats(dir, "protox", &id);
        let ratio = match (check, protox) {
            (Some((c, ..)), Some((p, ..))) => format!("{:.2}", c / p),
            _ => "-".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {events} | {} | {} | {} | {ratio} |",
            cell(check),
            cell(generate),
            cell(protox)
        );
    }
    out.push_str("\n| step of check, 1,000 events | median (min-max) |\n|---|---|\n");
    for name in [
        "yaml-table",
        "yaml-untyped",
        "protos",
        "proto-names",
        "validate",
    ] {
        let _ = writeln!(out, "| {name} | {} |", cell(stats(dir, "phases", name)));
    }
    out.push_str("\n| hostile input | median (min-max) |\n|---|---|\n");
    for name in ["alias-bomb", "nesting-20000", "names-100k"] {
        let _ = writeln!(out, "| {name} | {} |", cell(stats(dir, "hostile", name)));
    }
    println!("{out}");
}

fn main() {
    let output = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("criterion");
    let mut c = Criterion::default()
        .output_directory(&output)
        .without_plots()
        .configure_from_args();
    sizes(&mut c);
    phases(&mut c);
    hostile(&mut c);
    c.final_summary();
    summary(&output);
}
