//! `eventmap check --against-registry` when the server cannot be read: exit 2 (nothing was
//! checked), in every output format, and never a pass. The checks themselves, on a real
//! nats-server, are in `tests/tests/check_registry.rs`; on registries built in memory, in
//! `contract_registry.rs`.

use std::net::TcpListener;
use std::process::{Command, Output};

/// A loopback port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .current_dir("..")
        .args(["check", "--mappings", "tests/fixtures/contracts/v1.yaml"])
        .args(args)
        .output()
        .expect("run eventmap")
}

#[test]
fn an_unreachable_registry_is_exit_2_naming_the_server() {
    let url = format!("nats://127.0.0.1:{}", closed_port());
    let out = check(&["--against-registry", &url, "--registry-timeout", "2s"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("error: cannot connect to NATS at `{url}`")),
        "{stderr}"
    );
}

#[test]
fn an_unreachable_registry_is_a_could_not_run_diagnostic_in_json() {
    let url = format!("nats://127.0.0.1:{}", closed_port());
    let out = check(&[
        "--against-registry",
        &url,
        "--registry-timeout",
        "2s",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(json[0]["rule"], "could-not-run");
    assert!(
        json[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(&url),
        "{json}"
    );
}

#[test]
fn credentials_need_a_registry() {
    let out = check(&["--registry-creds", "deploy.creds"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--against-registry"));
}

/// The v1 billing table with a mapped field its proto message does not have, in a folder of
/// its own (with the protos beside it): a table with an error of its own.
fn broken_table() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixtures =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/contracts");
    let proto = "v1/billing/v1/invoice.proto";
    std::fs::create_dir_all(dir.path().join("v1/billing/v1")).expect("mkdir");
    std::fs::copy(fixtures.join(proto), dir.path().join(proto)).expect("copy proto");
    let table = std::fs::read_to_string(fixtures.join("v1.yaml")).expect("read table");
    let broken = table.replace("total_cents: { from:", "no_such_field: { from:");
    assert_ne!(
        broken, table,
        "the fixture changed: the field to break is gone"
    );
    std::fs::write(dir.path().join("v1.yaml"), broken).expect("write table");
    dir
}

/// An unreachable registry is exit 2, but the table's own errors are still reported, before
/// the error about the server: in text on stderr, in JSON in the one array on stdout.
#[test]
fn an_unreachable_registry_does_not_hide_a_tables_own_errors() {
    let dir = broken_table();
    let table = dir.path().join("v1.yaml");
    let url = format!("nats://127.0.0.1:{}", closed_port());
    let run = |format: &str| {
        Command::new(env!("CARGO_BIN_EXE_eventmap"))
            .args(["check", "--mappings"])
            .arg(&table)
            .args([
                "--against-registry",
                &url,
                "--registry-timeout",
                "2s",
                "--format",
                format,
            ])
            .output()
            .expect("run eventmap")
    };
    let text = run("text");
    let stderr = String::from_utf8_lossy(&text.stderr);
    assert_eq!(text.status.code(), Some(2), "{stderr}");
    let field = stderr.find("no_such_field").expect(&stderr);
    let server = stderr.find("error: cannot connect to NATS").expect(&stderr);
    assert!(field < server, "the table's error comes first: {stderr}");

    let json = run("json");
    assert_eq!(json.status.code(), Some(2));
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).expect("one JSON array");
    let rules: Vec<&str> = json
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|d| d["rule"].as_str())
        .collect();
    assert_eq!(rules.last(), Some(&"could-not-run"), "{json}");
    assert!(
        rules.len() >= 2,
        "the table's own error is there too: {json}"
    );
    assert!(json.to_string().contains("no_such_field"), "{json}");
}
