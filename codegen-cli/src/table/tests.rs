use std::path::Path;

use super::*;
use crate::diagnostic::Diagnostic;

const MINIMAL: &str = "\
version: 1
service: ordering
protos:
  include: [proto]
  files: [a.proto]
rust:
  domain_module: crate::domain
  proto_module: crate::proto
channels:
  order: { subject: ordering.order, stream: ORDERS }
events:
  OrderCreated:
    - name: OrderCreatedEvent
      message: a.OrderCreated
      channel: order
      fields:
        id: { envelope: integration_event_id }
        note: default
        flag: { const: NO }
        version_text: { const: 1.10 }
        items:
          from: items
          fields:
            sku: { from: sku }
";

fn parse_ok(text: &str) -> Table {
    match parse(Path::new("m.yaml"), text) {
        Ok(t) => t,
        Err(d) => panic!("unexpected error: {d}"),
    }
}

fn parse_err(text: &str) -> Diagnostic {
    match parse(Path::new("m.yaml"), text) {
        Ok(_) => panic!("expected an error"),
        Err(d) => *d,
    }
}

#[test]
fn parses_every_field_form_with_locations() {
    let table = parse_ok(MINIMAL);
    assert_eq!(table.service.value, "ordering");
    let integrations = table.events["OrderCreated"].value.integrations();
    assert_eq!(integrations.len(), 1);
    let fields = &integrations[0].fields;
    let id = &fields["id"];
    assert_eq!(id.referenced.line(), 17);
    match &id.value {
        FieldSource::Spec(spec) => {
            let env = spec.envelope.as_ref().expect("envelope");
            assert_eq!(env.value, "integration_event_id");
            assert_eq!(env.referenced.line(), 17);
            assert_eq!(env.referenced.column(), 25);
        }
        FieldSource::Default => panic!("expected a spec"),
    }
    assert!(matches!(fields["note"].value, FieldSource::Default));
    let (key, _) = fields.get_key_value("note").expect("note");
    assert_eq!((key.location().line(), key.location().column()), (18, 9));
    match &fields["items"].value {
        FieldSource::Spec(spec) => {
            let nested = spec.fields.as_ref().expect("nested");
            assert!(nested.contains_key("sku"));
        }
        FieldSource::Default => panic!("expected nested"),
    }
}

#[test]
fn scalars_stay_as_written() {
    let table = parse_ok(MINIMAL);
    let fields = &table.events["OrderCreated"].value.integrations()[0].fields;
    let constant = |name: &str| match &fields[name].value {
        FieldSource::Spec(spec) => spec.constant.as_ref().map(|c| c.value.clone()),
        FieldSource::Default => None,
    };
    assert_eq!(constant("flag").as_deref(), Some("NO"));
    assert_eq!(constant("version_text").as_deref(), Some("1.10"));
}

#[test]
fn unknown_key_is_an_error_with_location() {
    let text = MINIMAL.replace(
        "      channel: order\n",
        "      channel: order\n      chanel: order\n",
    );
    let d = parse_err(&text);
    assert_eq!(d.rule, "yaml");
    assert!(d.message.contains("chanel"), "{}", d.message);
    let loc = d.location.expect("location");
    assert_eq!((loc.line, loc.column), (16, 7));
}

#[test]
fn duplicate_key_is_an_error_at_second_occurrence() {
    let text = MINIMAL.replace(
        "        note: default\n",
        "        note: default\n        note: default\n",
    );
    let d = parse_err(&text);
    let loc = d.location.expect("location");
    assert_eq!(loc.line, 19, "{}", d.message);
}

#[test]
fn unknown_field_source_word_is_an_error() {
    let text = MINIMAL.replace("note: default", "note: nothing");
    let d = parse_err(&text);
    assert!(d.message.contains("nothing"), "{}", d.message);
    assert_eq!(d.location.expect("location").line, 18);
}

#[test]
fn merge_keys_expand_into_the_table() {
    let text = MINIMAL.replace(
        "channels:\n  order: { subject: ordering.order, stream: ORDERS }\n",
        "x-defaults: &stream\n  stream: ORDERS\nchannels:\n  order:\n    <<: *stream\n    subject: ordering.order\n",
    );
    // `x-defaults` is an unknown key: anchors must live inside known keys.
    let d = parse_err(&text);
    assert!(d.message.contains("x-defaults"), "{}", d.message);
    let text = MINIMAL.replace(
        "channels:\n  order: { subject: ordering.order, stream: ORDERS }\n",
        "channels:\n  order: &base\n    subject: ordering.order\n    stream: ORDERS\n  audit:\n    <<: *base\n    subject: ordering.audit\n",
    );
    let table = parse_ok(&text);
    assert_eq!(table.channels["audit"].stream.value, "ORDERS");
    assert_eq!(table.channels["audit"].subject.value, "ordering.audit");
}

#[test]
fn hostile_input_is_an_error_not_a_panic() {
    for text in [
        "",
        "\t- x",
        "version: [",
        "a: &a [*a]",
        "---\nversion: 1\n---\nversion: 1\n",
    ] {
        let _ = parse(Path::new("m.yaml"), text).expect_err("error");
    }
    let bomb = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    assert!(parse(Path::new("m.yaml"), bomb).is_err());
}
