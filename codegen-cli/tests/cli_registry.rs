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
