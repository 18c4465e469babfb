//! Hostile and broken input: each class gives one clear diagnostic, with its rule
//! and its `file:line:col`, and no panic. Speed is not asserted here (no timed tests): the
//! `hostile` group of `benches/check.rs` measures the expensive classes, and BENCHMARKS.md
//! records the figures.

mod support;

use support::{Project, TABLE, at, single_error, table_with_file};

#[test]
fn the_base_table_is_valid() {
    let project = Project::new();
    let analysis = project.analyze(TABLE);
    assert!(!analysis.has_errors(), "{}", analysis.render());
}

#[test]
fn an_empty_file_is_located_at_its_start_with_a_minimal_table() {
    let project = Project::new();
    for text in [
        "",
        "\n\n   \n",
        "# only a comment\n",
        "# no newline",
        "\t\n",
    ] {
        let analysis = project.analyze(text);
        let d = single_error(&analysis);
        assert_eq!(d.rule, "yaml");
        assert_eq!(
            d.message,
            "the table is empty: the file holds no YAML, at most comments and blank lines"
        );
        // Not past the end of the file, where serde-saphyr puts it.
        assert_eq!(at(d), ("mappings.yaml".into(), 1, 1), "{text:?}");
        let hint = d.hint.as_deref().unwrap_or_default();
        for key in [
            "`version: 1`",
            "`service:",
            "`protos:",
            "`rust:",
            "`channels:`",
        ] {
            assert!(hint.contains(key), "{key} missing from the hint: {d}");
        }
    }
}

#[test]
fn several_documents_are_refused_at_the_second() {
    let project = Project::new();
    let analysis = project.analyze(support::several_documents());
    let d = single_error(&analysis);
    assert_eq!(d.rule, "yaml");
    assert!(d.message.contains("more than one YAML document"), "{d}");
    // `---` is line 24; the second document starts on line 25.
    assert_eq!(at(d), ("mappings.yaml".into(), 25, 1));
    // A trailing `---` starts an (empty) second document too.
    let analysis = project.analyze(format!("{TABLE}---\n"));
    let d = single_error(&analysis);
    assert!(d.message.contains("more than one YAML document"), "{d}");
    assert_eq!(at(d), ("mappings.yaml".into(), 24, 4));
}

#[test]
fn a_tab_in_indentation_is_refused_where_it_is() {
    let project = Project::new();
    // (table, line and column of the tab). The parser notices the first two on the
    // character after the tab, the third on the line before (it tries to continue the
    // plain scalar `PlacedEvent`).
    for (text, line, column) in [
        (support::tab_indented(), 4, 1),
        (TABLE.replace("    - name:", "  \t- name:"), 13, 3),
        (TABLE.replace("      message:", "    \t  message:"), 14, 5),
    ] {
        let analysis = project.analyze(&text);
        let d = single_error(&analysis);
        assert_eq!(d.rule, "yaml");
        assert_eq!(
            d.message,
            "tabs are not allowed for indentation in YAML; use spaces"
        );
        assert_eq!(at(d), ("mappings.yaml".into(), line, column), "{text}");
    }
}

/// The location of the diagnostic's only note, and its text.
fn only_note(d: &eventmap_codegen::Diagnostic) -> (String, usize, usize) {
    assert_eq!(d.notes.len(), 1, "{d}");
    let (text, loc) = &d.notes[0];
    let loc = loc
        .as_ref()
        .unwrap_or_else(|| panic!("a note without location: {d}"));
    (text.clone(), loc.line, loc.column)
}

#[test]
fn a_duplicate_key_is_refused_at_its_second_occurrence_with_the_first_noted() {
    let project = Project::new();
    let analysis = project.analyze(support::duplicate_key());
    let d = single_error(&analysis);
    assert_eq!(d.rule, "yaml");
    assert_eq!(d.message, "duplicate key `service`");
    assert_eq!(at(d), ("mappings.yaml".into(), 24, 1));
    assert_eq!(only_note(d), ("first defined here".into(), 2, 1));
    // (table, message, second occurrence, first occurrence): deep in the table (a proto
    // field mapped twice), a channel (once quoted), a key of a flow mapping, an event.
    let cases = [
        (
            TABLE.replace(
                "        note: default\n",
                "        note: default\n        note: { from: note }\n",
            ),
            "duplicate key `note`",
            (19, 9),
            (18, 9),
        ),
        (
            TABLE.replace(
                "  orders: { subject: shop.orders, stream: SHOP_ORDERS }\n",
                "  orders: { subject: shop.orders, stream: SHOP_ORDERS }\n  \"orders\": { subject: a, stream: B }\n",
            ),
            "duplicate key `orders`",
            (11, 3),
            (10, 3),
        ),
        (
            TABLE.replace("{ subject: shop.orders,", "{ subject: shop.orders, subject: x,"),
            "duplicate key `subject`",
            (10, 35),
            (10, 13),
        ),
        (
            format!("{TABLE}  Placed: internal\n"),
            "duplicate key `Placed`",
            (24, 3),
            (12, 3),
        ),
    ];
    for (text, message, (line, column), first) in cases {
        let d = single_error(&project.analyze(&text)).clone();
        assert_eq!(d.message, message);
        assert_eq!(at(&d), ("mappings.yaml".into(), line, column), "{text}");
        assert_eq!(
            only_note(&d),
            ("first defined here".into(), first.0, first.1)
        );
    }
}

#[test]
fn a_version_out_of_range_is_named_in_the_tables_terms() {
    let project = Project::new();
    for written in ["99999999999", "4294967296", "-1", "1.5", "one"] {
        let analysis = project.analyze(TABLE.replace("version: 1", &format!("version: {written}")));
        let d = single_error(&analysis);
        assert_eq!(d.rule, "unsupported-version");
        assert_eq!(
            d.message,
            format!(
                "`{written}` is not a mapping format version (a small whole number, 1 or more)"
            )
        );
        assert_eq!(at(d), ("mappings.yaml".into(), 1, 10));
        assert_eq!(
            d.hint.as_deref(),
            Some(
                "`version` names the format of this table (not of its contracts); this eventmap reads `version: 1`"
            )
        );
    }
}

#[test]
fn an_alias_bomb_is_refused_not_expanded() {
    let project = Project::new();
    let analysis = project.analyze(support::alias_bomb());
    let d = single_error(&analysis);
    assert_eq!(d.rule, "yaml");
    assert_eq!(d.message, "aliases expand to more than 250000 YAML events");
    // At the alias in use when the limit was reached (`*f3` in level 4), with a note at its
    // anchor (`&f3`, level 3).
    assert_eq!(at(d), ("mappings.yaml".into(), 21, 142));
    let anchor = d.notes[0].1.as_ref().expect("anchor location");
    assert_eq!((anchor.line, anchor.column), (20, 35));
    assert!(
        d.hint.as_deref().is_some_and(|h| h.contains("alias bomb")),
        "{d}"
    );

    // The classic form (sequences of aliases) fails on its type before it expands: an
    // integration event is a mapping, not `x`.
    let analysis = project.analyze(support::classic_alias_bomb());
    let d = single_error(&analysis);
    assert_eq!(d.rule, "yaml");
    assert_eq!(d.message, "expected mapping start");
    assert_eq!(at(d), ("mappings.yaml".into(), 12, 10));
}

#[test]
fn nesting_deeper_than_64_levels_is_refused() {
    let project = Project::new();
    // 20,000 levels of nested field maps, valid for the table's types all the way down.
    let analysis = project.analyze(support::nested_fields(10_000));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "yaml");
    assert_eq!(d.message, "the table is nested deeper than 64 levels");
    assert_eq!(at(d), ("mappings.yaml".into(), 18, 1255));
    // 20,000 levels of flow sequences where a list of events is expected.
    // The YAML scanner stops flow collections at 256 levels (the 256th `[`), before the
    // deserializer sees them.
    let analysis = project.analyze(support::nested_sequences(20_000));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "yaml");
    assert_eq!(d.message, "recursion limit exceeded");
    assert_eq!(at(d), ("mappings.yaml".into(), 12, 9 + 255));
    // Within the limit, nesting is fine: 20 levels of `Tree.children` check and generate
    // (`Project::analyze` asserts that the module generates and parses).
    let analysis = project.analyze(support::nested_fields(20));
    assert!(!analysis.has_errors(), "{}", analysis.render());
}

#[test]
fn a_missing_proto_is_located_at_its_entry_in_the_table() {
    let project = Project::new();
    let analysis = project.analyze(table_with_file("shop/v1/nope.proto"));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "proto");
    assert_eq!(
        d.message,
        "`shop/v1/nope.proto` is not found in any include directory"
    );
    assert_eq!(at(d), ("mappings.yaml".into(), 5, 11));
    // A missing import: protox's own location, the `import` in the importing file.
    project.write_proto(
        "shop/v1/imports.proto",
        "syntax = \"proto3\";\npackage shop.v1;\n\nimport \"shop/v1/gone.proto\";\n",
    );
    let analysis = project.analyze(table_with_file("shop/v1/imports.proto"));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "proto");
    assert_eq!(d.message, "import 'shop/v1/gone.proto' not found");
    assert_eq!(at(d), ("imports.proto".into(), 4, 1));
    assert!(
        d.location
            .as_ref()
            .expect("location")
            .file
            .ends_with("proto/shop/v1/imports.proto"),
        "{d}"
    );
}

#[test]
fn an_unreadable_proto_is_located() {
    let project = Project::new();
    // A directory where a file is expected cannot be read by anyone, root included.
    std::fs::create_dir_all(project.dir.path().join("proto/shop/v1/folder.proto")).expect("mkdir");
    let analysis = project.analyze(table_with_file("shop/v1/folder.proto"));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "proto");
    assert_eq!(
        d.message,
        "`shop/v1/folder.proto` is a directory, not a `.proto` file"
    );
    assert_eq!(at(d), ("mappings.yaml".into(), 5, 11));
    // Imported, it is located at the `import` (protox itself gives no location).
    project.write_proto(
        "shop/v1/uses_folder.proto",
        "syntax = \"proto3\";\npackage shop.v1;\n\n  import \"shop/v1/folder.proto\";\n",
    );
    let analysis = project.analyze(table_with_file("shop/v1/uses_folder.proto"));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "proto");
    assert!(d.message.starts_with("error opening file"), "{d}");
    assert!(d.message.contains("directory"), "{d}");
    assert_eq!(at(d), ("uses_folder.proto".into(), 4, 3));
    assert_eq!(d.location.as_ref().expect("location").len, 30);

    // `chmod 000`: only a test that does not run as root (or with CAP_DAC_OVERRIDE) can see
    // it refused; otherwise the file is readable and this part says so and stops.
    let locked = project.write_proto("shop/v1/locked.proto", "syntax = \"proto3\";\npackage l;\n");
    set_mode(&locked, 0o000);
    if std::fs::read(&locked).is_ok() {
        eprintln!(
            "chmod 000 does not stop this user from reading (root?): that case is not exercised"
        );
        set_mode(&locked, 0o644);
        return;
    }
    let analysis = project.analyze(table_with_file("shop/v1/locked.proto"));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "proto");
    assert!(
        d.message.starts_with("cannot read `shop/v1/locked.proto`"),
        "{d}"
    );
    assert_eq!(at(d), ("mappings.yaml".into(), 5, 11));
    project.write_proto(
        "shop/v1/uses_locked.proto",
        "syntax = \"proto3\";\npackage shop.v1;\nimport \"shop/v1/locked.proto\";\n",
    );
    let analysis = project.analyze(table_with_file("shop/v1/uses_locked.proto"));
    let d = single_error(&analysis);
    assert!(d.message.contains("ermission denied"), "{d}");
    assert_eq!(at(d), ("uses_locked.proto".into(), 3, 1));
    set_mode(&locked, 0o644);
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn a_proto_syntax_error_is_located_where_protox_puts_it() {
    let project = Project::new();
    project.write_proto(
        "shop/v1/shop.proto",
        support::PROTO.replace("int32 quantity = 2;", "int32 quantity = ;"),
    );
    let analysis = project.analyze(TABLE);
    let d = single_error(&analysis);
    assert_eq!(d.rule, "proto");
    assert_eq!(d.message, "expected an integer, but found ';'");
    let loc = d.location.as_ref().expect("location");
    assert!(loc.file.ends_with("proto/shop/v1/shop.proto"), "{d}");
    // `  int32 quantity = ;`: the `;` is line 6, column 20.
    assert_eq!((loc.line, loc.column, loc.len), (6, 20, 1));
    assert!(
        analysis.render().contains("shop.proto:6:20: error[proto]"),
        "{}",
        analysis.render()
    );
}

#[test]
fn an_import_cycle_is_located_at_the_import_that_closes_it() {
    let project = Project::new();
    project.write_proto(
        "shop/v1/a.proto",
        "syntax = \"proto3\";\npackage shop.v1;\nimport \"shop/v1/b.proto\";\n",
    );
    project.write_proto(
        "shop/v1/b.proto",
        "syntax = \"proto3\";\npackage shop.v1;\n\n// closes the cycle\nimport \"shop/v1/a.proto\";\n",
    );
    let analysis = project.analyze(table_with_file("shop/v1/a.proto"));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "proto");
    assert_eq!(
        d.message,
        "import cycle detected: shop/v1/a.proto -> shop/v1/b.proto -> shop/v1/a.proto"
    );
    assert_eq!(at(d), ("b.proto".into(), 5, 1));
}

#[test]
fn very_long_names_are_reported_without_a_slow_suggestion() {
    let project = Project::new();
    let a = support::long_name('a', 100_000);
    let b = support::long_name('b', 100_000);
    // YAML caps an implicit key at 1024 characters: a clear error at the key, with a hint.
    let analysis = project.analyze(TABLE.replace("  orders:", &format!("  {a}:")));
    let d = single_error(&analysis);
    assert_eq!(d.rule, "yaml");
    assert_eq!(at(d), ("mappings.yaml".into(), 10, 3));
    assert!(d.hint.as_deref().is_some_and(|h| h.contains("1024")), "{d}");

    // As explicit keys they parse; an unknown 100k-character channel next to a defined one
    // (edit distances of 100k x 100k characters took minutes) is reported at once.
    let text = TABLE
        .replace("  orders: {", &format!("  ? {a}\n  : {{"))
        .replace("channel: orders", &format!("channel: {b}"));
    let analysis = project.analyze(&text);
    let rules: Vec<&str> = analysis.diagnostics.iter().map(|d| d.rule).collect();
    assert_eq!(
        rules,
        ["unknown-channel", "unused-channel"],
        "{}",
        analysis.render()
    );
    let d = &analysis.diagnostics[0];
    assert_eq!(at(d), ("mappings.yaml".into(), 16, 16));
    assert_eq!(d.location.as_ref().expect("location").len, 100_000);

    // A 100k-character proto field and proto message name.
    let text = TABLE.replace(
        "        note: default\n",
        &format!("        note: default\n        ? {a}\n        : default\n"),
    );
    let d = single_error(&project.analyze(&text)).clone();
    assert_eq!(d.rule, "unknown-proto-field");
    assert_eq!(at(&d), ("mappings.yaml".into(), 19, 11));
    let text = TABLE.replace("message: shop.v1.Placed", &format!("message: shop.v1.{a}"));
    let d = single_error(&project.analyze(&text)).clone();
    assert_eq!(d.rule, "unknown-proto-message");
    assert_eq!(at(&d), ("mappings.yaml".into(), 14, 16));

    // Valid 100k-character names (domain event, integration event, domain path, constant)
    // check and generate (`Project::analyze` parses the generated module).
    let text = TABLE
        .replace("  Placed:\n", &format!("  ? {a}\n  :\n"))
        .replace("name: PlacedEvent", &format!("name: {b}"))
        .replace("note: default", &format!("note: {{ const: {a} }}"))
        .replace("sku: { from: sku }", &format!("sku: {{ from: x.{b} }}"));
    let analysis = project.analyze(&text);
    assert!(!analysis.has_errors(), "{}", analysis.render());
}

#[test]
fn non_utf8_bytes_are_located_at_the_first_bad_byte() {
    let project = Project::new();
    let mut bytes = TABLE.as_bytes().to_vec();
    // `service: sh\xffop` on line 2: the bad byte is the 12th character.
    let at_byte = TABLE.find("shop\n").expect("service") + 2;
    bytes.insert(at_byte, 0xff);
    let analysis = project.analyze(&bytes);
    let d = single_error(&analysis);
    assert_eq!(d.rule, "yaml");
    assert_eq!(d.message, "the file is not valid UTF-8");
    assert_eq!(at(d), ("mappings.yaml".into(), 2, 12));
    // In a `.proto`: at its first bad byte too (protox only names the file).
    let mut proto = support::PROTO.as_bytes().to_vec();
    let note = support::PROTO.find("note = 2").expect("note");
    proto[note + 1] = 0xc3; // a lead byte without its continuation
    project.write_proto("shop/v1/shop.proto", &proto);
    let analysis = project.analyze(TABLE);
    let d = single_error(&analysis);
    assert_eq!(d.rule, "proto");
    assert!(d.message.contains("not valid utf-8"), "{d}");
    assert_eq!(at(d), ("shop.proto".into(), 11, 11));
}
