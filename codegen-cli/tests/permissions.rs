//! `eventmap permissions`: the NATS permissions of each example service and of a table with
//! several channels, a shared stream, several subscriptions and dead letters, pinned with insta
//! in both formats (nats-server configuration and JSON); the binary's options and errors.
//! `tests/tests/permissions.rs` of the workspace runs the example flow under these permissions.

use std::path::Path;
use std::process::{Command, Output};

use eventmap_codegen::permissions::{self, Options, ServicePermissions};

const TABLES: [(&str, &str); 4] = [
    ("ordering", "../mappings.yaml"),
    ("search", "../examples/search/mappings.yaml"),
    ("notifications", "../examples/notifications/mappings.yaml"),
    ("fulfilment", "tests/permissions_fixture/mappings.yaml"),
];

fn service(table: &str, options: &Options) -> ServicePermissions {
    let analysis = eventmap_codegen::analyze(Path::new(table)).expect("readable");
    assert!(!analysis.has_errors(), "{}", analysis.render());
    permissions::for_table(&analysis, options).expect("permissions")
}

fn eventmap(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run eventmap")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn subjects(grants: &[permissions::Grant]) -> Vec<&str> {
    grants.iter().map(|g| g.subject.as_str()).collect()
}

#[test]
fn server_config_and_json_of_each_table() {
    for (name, table) in TABLES {
        let service = service(table, &Options::default());
        assert_eq!(service.user, name);
        let config = permissions::server_config(std::slice::from_ref(&service)).expect("config");
        let json = permissions::json(std::slice::from_ref(&service)).expect("json");
        insta::assert_snapshot!(format!("{name}_server_config"), config);
        insta::assert_snapshot!(format!("{name}_json"), json);
        // Deterministic: the same table gives the same bytes.
        let again = permissions::server_config(&[service]).expect("config");
        assert_eq!(config, again);
    }
}

/// The rules on the fixture, stated: exact event subjects, one entry per stream shared by two
/// channels, each durable's own API subjects, a dead-letter stream shared by two durables
/// listed once, nothing of a channel only declared, no wildcard API grant.
#[test]
fn several_channels_shared_streams_and_dead_letters() {
    let service = service(TABLES[3].1, &Options::default());
    let publish = subjects(&service.publish);
    for expected in [
        "fulfilment.order.OrderCanceledEvent",
        "fulfilment.audit.CancelationAudited",
        "fulfilment.billing.OrderInvoiced",
        "$JS.API.STREAM.CREATE.FULFILMENT",
        "$JS.API.STREAM.CREATE.FULFILMENT_BILLING",
        "$JS.API.CONSUMER.CREATE.ORDERING_ORDERS.fulfilment-created",
        "$JS.API.CONSUMER.MSG.NEXT.ORDERING_ORDERS.fulfilment-lifecycle",
        "$JS.ACK.RETURNS.fulfilment-returns.>",
        "fulfilment.dead-letter.created.*",
        "fulfilment.dead-letter.lifecycle.*",
        "$JS.API.STREAM.CREATE.FULFILMENT_DEAD_LETTERS",
    ] {
        assert!(
            publish.contains(&expected),
            "{expected} missing: {publish:#?}"
        );
    }
    let count = |subject: &str| publish.iter().filter(|s| **s == subject).count();
    assert_eq!(count("$JS.API.STREAM.INFO.FULFILMENT"), 1);
    assert_eq!(count("$JS.API.STREAM.CREATE.FULFILMENT_DEAD_LETTERS"), 1);
    let shared = service
        .publish
        .iter()
        .find(|g| g.subject == "$JS.API.STREAM.CREATE.FULFILMENT_DEAD_LETTERS")
        .expect("dead-letter stream");
    assert_eq!(shared.why.len(), 2, "{:?}", shared.why);
    // Consumed channels are read, never provisioned; the returns durable has no dead letters.
    assert!(!publish.contains(&"$JS.API.STREAM.CREATE.ORDERING_ORDERS"));
    assert!(!publish.contains(&"$JS.API.STREAM.CREATE.RETURNS"));
    assert!(publish.contains(&"$JS.API.STREAM.INFO.RETURNS"));
    assert!(!publish.iter().any(|s| s.starts_with("returns.")));
    // Nothing wider than one stream or one durable.
    for subject in &publish {
        // The one exception: contracts read by fingerprint in the contract registry.
        let registry_contracts =
            "$JS.API.DIRECT.GET.KV_EVENTMAP_CONTRACTS.$KV.EVENTMAP_CONTRACTS.schema.*";
        assert!(
            !subject.starts_with("$JS.API")
                || !subject.contains(['*', '>'])
                || *subject == registry_contracts,
            "wildcard API grant {subject}"
        );
        assert!(
            *subject != ">" && !subject.ends_with(".order.>"),
            "{subject}"
        );
    }
    assert_eq!(subjects(&service.subscribe), ["_INBOX.>"]);
    assert!(service.publish.iter().all(|g| !g.why.is_empty()));
}

#[test]
fn user_and_inbox_prefix_options() {
    let options = Options {
        user: Some("search-1".to_owned()),
        inbox_prefix: "_INBOX_search".to_owned(),
    };
    let search = service(TABLES[1].1, &options);
    assert_eq!(search.user, "search-1");
    assert_eq!(search.password_variable(), "NATS_PASSWORD_SEARCH_1");
    assert_eq!(subjects(&search.subscribe), ["_INBOX_search.>"]);
    // `{service}` is each table's service: one configuration, a prefix per service.
    let per_service = Options {
        user: None,
        inbox_prefix: "_INBOX_{service}".to_owned(),
    };
    for (table, prefix) in [
        (TABLES[1].1, "_INBOX_search.>"),
        (TABLES[2].1, "_INBOX_notifications.>"),
    ] {
        assert_eq!(subjects(&service(table, &per_service).subscribe), [prefix]);
    }
    let analysis = eventmap_codegen::analyze(Path::new(TABLES[1].1)).expect("readable");
    for (user, prefix, problem) in [
        ("a b", "_INBOX", "invalid NATS user name \"a b\""),
        ("search", "_INBOX.>", "invalid inbox prefix \"_INBOX.>\""),
    ] {
        let options = Options {
            user: Some(user.to_owned()),
            inbox_prefix: prefix.to_owned(),
        };
        let err = permissions::for_table(&analysis, &options).unwrap_err();
        assert!(err.to_string().starts_with(problem), "{err}");
    }
}

#[test]
fn the_binary_writes_one_user_per_table() {
    let out = eventmap(
        Path::new(".."),
        &[
            "permissions",
            "--mappings",
            "mappings.yaml",
            "--mappings",
            "examples/search/mappings.yaml",
            "--mappings",
            "examples/notifications/mappings.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let config = text(&out.stdout);
    for user in ["ordering", "search", "notifications"] {
        assert!(config.contains(&format!("user: \"{user}\"")), "{config}");
        let variable = format!("password: $NATS_PASSWORD_{}", user.to_uppercase());
        assert!(config.contains(&variable), "{config}");
    }
    // Each user block is exactly the library's.
    let library = permissions::server_config(&[
        service("../mappings.yaml", &Options::default()),
        service("../examples/search/mappings.yaml", &Options::default()),
        service(
            "../examples/notifications/mappings.yaml",
            &Options::default(),
        ),
    ])
    .expect("config");
    assert_eq!(config, library.replace("from ../", "from "));

    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("permissions.json");
    let out = eventmap(
        Path::new(".."),
        &[
            "permissions",
            "--format",
            "json",
            "--mappings",
            "examples/search/mappings.yaml",
            "--user",
            "search-blue",
            "--output",
            file.to_str().expect("utf-8 path"),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("json");
    assert_eq!(json["users"][0]["user"], "search-blue");
    assert_eq!(
        json["users"][0]["password_env"],
        "NATS_PASSWORD_SEARCH_BLUE"
    );
    assert_eq!(
        json["users"][0]["publish"]["allow"][1]["subject"],
        "$JS.API.CONSUMER.CREATE.ORDERING_ORDERS.search-orders"
    );
}

#[test]
fn the_binary_refuses_what_it_cannot_write() {
    let root = Path::new("..");
    let two = [
        "permissions",
        "--mappings",
        "examples/search/mappings.yaml",
        "--mappings",
        "examples/notifications/mappings.yaml",
    ];
    let out = eventmap(root, &[&two[..], &["--user", "x"]].concat());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--user names the user of one table"));

    let same = [
        "permissions",
        "--mappings",
        "examples/search/mappings.yaml",
        "--mappings",
        "examples/search/mappings.yaml",
    ];
    let out = eventmap(root, &same);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("user `search` is given by both"),
        "{}",
        text(&out.stderr)
    );

    let out = eventmap(root, &[&two[..], &["--format", "github"]].concat());
    assert_eq!(out.status.code(), Some(2));

    // `generate` takes one table.
    let out = eventmap(
        root,
        &[
            "generate",
            "--mappings",
            "mappings.yaml",
            "--mappings",
            "mappings.yaml",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("this command takes one table, 2 were given"));
}

/// A bad table gives the diagnostics of `eventmap check`, located, and no permissions.
#[test]
fn a_bad_table_gives_located_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = std::fs::read_to_string("../examples/search/mappings.yaml").expect("table");
    let broken = table.replace("channel: order", "channel: orders");
    std::fs::write(
        dir.path().join("mappings.yaml"),
        broken.replace(
            "../../proto",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../proto"),
        ),
    )
    .expect("write");
    let line = broken
        .lines()
        .position(|l| l.contains("channel: orders"))
        .expect("line")
        + 1;
    let out = eventmap(dir.path(), &["permissions"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("mappings.yaml:{line}:")),
        "{stderr}"
    );
    assert!(stderr.contains("orders"), "{stderr}");

    let out = eventmap(dir.path(), &["permissions", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let diagnostics: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("json diagnostics");
    assert_eq!(diagnostics[0]["start_line"], line, "{diagnostics}");
}
