#![allow(dead_code)]
use eventmap_codegen::*;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;
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

fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let p = project(n);
    let table_bytes = std::fs::metadata(&p.table).unwrap().len();
    let proto_bytes: u64 = p
        .files
        .iter()
        .map(|f| std::fs::metadata(p.include.join(f)).unwrap().len())
        .sum();
    let lines = std::fs::read_to_string(&p.table).unwrap().lines().count();
    println!(
        "table {table_bytes} bytes {lines} lines, protos {proto_bytes} bytes in {} files",
        p.files.len()
    );
    let mut best = [std::time::Duration::MAX; 7];
    for _ in 0..15 {
        let t = Instant::now();
        let text = std::fs::read_to_string(&p.table).unwrap();
        let table = table::parse(&p.table, &text).unwrap();
        let t1 = t.elapsed();
        let base = validate::table_dir(&p.table);
        let includes: Vec<String> = table
            .protos
            .include
            .iter()
            .map(|s| s.value.clone())
            .collect();
        let files: Vec<String> = table.protos.files.iter().map(|s| s.value.clone()).collect();
        let missing = protos::missing_inputs(&p.table, &base, &table.protos);
        assert!(missing.is_empty());
        let t2 = t.elapsed();
        let mut sources = Sources::default();
        let set = protos::ProtoSet::compile(&base, &base, &includes, &files, &mut sources).unwrap();
        let t3 = t.elapsed();
        set.add_sources(&mut sources);
        let t4 = t.elapsed();
        let names = proto_names::check(&set);
        let t5 = t.elapsed();
        let checked = validate::check(&table, &p.table, &base, &set);
        let t6 = t.elapsed();
        assert!(checked.model.is_some() && names.is_empty());
        for (b, v) in best
            .iter_mut()
            .zip([t1, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t6])
        {
            *b = (*b).min(v);
        }
        if false {
            println!(
                "n={n} parse {:?} missing {:?} compile {:?} add_sources {:?} proto_names {:?} validate(incl. proto_names) {:?} total {:?}",
                t1,
                t2 - t1,
                t3 - t2,
                t4 - t3,
                t5 - t4,
                t6 - t5,
                t6
            );
        }
    }
    println!(
        "n={n} min: parse {:?} missing {:?} compile {:?} add_sources {:?} proto_names {:?} validate(incl. proto_names) {:?} total {:?}",
        best[0], best[1], best[2], best[3], best[4], best[5], best[6]
    );
}
