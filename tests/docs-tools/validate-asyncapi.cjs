// Validates AsyncAPI documents written by `eventmap docs` with the official AsyncAPI parser:
//   node validate-asyncapi.cjs [--receive] FILE...
// Each file is parsed twice: by @asyncapi/parser alone, and with AsyncAPI's protobuf schema
// parser registered, which compiles every inlined `.proto` payload into a JSON Schema. Any
// diagnostic of severity error fails; warnings and the rest are printed. With the protobuf
// parser, each message's payload must have become the message its `x-protobuf-message` names
// (the `// @RootNode` marker picked the right one of the text's messages), and no payload
// schema may import a file (the protobuf schema parser loads none but its bundled ones). Every `receive`
// operation (a table's subscriptions) must be on one channel, receive messages of that
// channel and name its durable consumer; with --receive each file must have at least one.
'use strict';
const fs = require('fs');
const { Parser, DiagnosticSeverity } = require('@asyncapi/parser');
const { ProtoBuffSchemaParser } = require('@asyncapi/protobuf-schema-parser');

const SEVERITY = ['error', 'warning', 'information', 'hint'];

// Problems of the receive operations of `document`, as text; `required`: at least one.
function receiveProblems(document, required) {
  const problems = [];
  const receives = document.allOperations().all().filter((op) => op.isReceive());
  if (required && receives.length === 0) problems.push('no receive operation');
  for (const op of receives) {
    const channels = op.channels().all();
    if (channels.length !== 1) {
      problems.push(`operation ${op.id()}: ${channels.length} channels`);
      continue;
    }
    const inChannel = new Set(channels[0].messages().all().map((m) => m.id()));
    const messages = op.messages().all();
    if (messages.length === 0) problems.push(`operation ${op.id()}: no message`);
    for (const m of messages) {
      if (!inChannel.has(m.id())) {
        problems.push(`operation ${op.id()}: message ${m.id()} is not one of channel ${channels[0].id()}'s`);
      }
    }
    if (!op.json()['x-jetstream-durable']) problems.push(`operation ${op.id()}: no x-jetstream-durable`);
  }
  return problems;
}

async function check(file, withProtobuf, requireReceive) {
  const parser = new Parser();
  if (withProtobuf) parser.registerSchemaParser(ProtoBuffSchemaParser());
  const label = `${file} (${withProtobuf ? 'with' : 'without'} the protobuf schema parser)`;
  const { document, diagnostics } = await parser.parse(fs.readFileSync(file, 'utf8'), { source: file });
  let errors = 0;
  for (const d of diagnostics) {
    if (d.severity === DiagnosticSeverity.Error) errors += 1;
    console.log(`${label}: ${SEVERITY[d.severity] || d.severity} ${d.code}: ${d.message} at ${JSON.stringify(d.path)}`);
  }
  if (!document || errors > 0) {
    console.log(`${label}: FAILED (${errors} error(s))`);
    return false;
  }
  const messages = document.allMessages().all();
  if (messages.length === 0) {
    console.log(`${label}: FAILED (no message)`);
    return false;
  }
  let ok = true;
  for (const message of messages) {
    // Self-contained payloads: the protobuf schema parser loads no imported file.
    const schema = message.json().payload && message.json().payload.schema;
    if (typeof schema === 'string' && /^\s*import\s/m.test(schema)) {
      console.log(`${label}: message ${message.id()}: the payload schema imports a file`);
      ok = false;
    }
  }
  if (withProtobuf) {
    for (const message of messages) {
      const expected = String(message.json()['x-protobuf-message'] || '').split('.').pop();
      const title = message.payload() && message.payload().title();
      if (!expected || title !== expected) {
        console.log(`${label}: message ${message.id()}: payload is \`${title}\`, expected \`${expected}\``);
        ok = false;
      }
    }
  }
  for (const problem of receiveProblems(document, requireReceive)) {
    console.log(`${label}: ${problem}`);
    ok = false;
  }
  const channels = document.allChannels().all().length;
  const operations = document.allOperations().all();
  const sends = operations.filter((op) => op.isSend()).length;
  const receives = operations.filter((op) => op.isReceive()).length;
  console.log(`${label}: ${ok ? 'valid' : 'FAILED'}: ${channels} channels, ${sends} send and ${receives} receive operations, ${messages.length} messages`);
  return ok;
}

(async () => {
  let files = process.argv.slice(2);
  const requireReceive = files[0] === '--receive';
  if (requireReceive) files = files.slice(1);
  if (files.length === 0) {
    console.error('usage: node validate-asyncapi.cjs [--receive] FILE...');
    process.exit(2);
  }
  let ok = true;
  for (const file of files) {
    for (const withProtobuf of [false, true]) {
      ok = (await check(file, withProtobuf, requireReceive)) && ok;
    }
  }
  process.exit(ok ? 0 : 1);
})().catch((err) => {
  console.error(err);
  process.exit(2);
});
