#!/usr/bin/env python3
"""Cross-language check of eventmap's integration events: a Python consumer (nats-py plus
protobuf classes generated at run time from proto/) listens on `ordering.order.>` with a plain
core NATS subscription while the ordering example runs, and checks every message it sees:

* CloudEvents 1.0 binary-mode headers: ce-specversion, ce-id (a UUID equal to the payload's
  `id` and to Nats-Msg-Id), ce-type (the last subject token, one of the four integration
  events), ce-source, ce-time (RFC 3339, equal to the payload's timestamp), ce-datacontenttype,
  ce-subject / ce-aggregateid (the payload's `order_id`), ce-aggregatetype,
  ce-aggregateversion (the payload's `order_version`), ce-domaineventid (ce-id is its UUIDv5
  with the event name); the optional ce-correlationid and ce-causationid non-empty when
  present, and traceparent (W3C Trace Context) well-formed when present;
* the payload decodes as the message of its ce-type, with no unknown fields;
* consistency across the events of one order: one OrderCreated, first, whose total_cents is
  the sum of unit_price_cents * quantity of its items; OrderReadied carries the same total;
  customer and payment ids agree; versions go 1, 2, 3, ... in publish order; the lifecycle is
  legal (complete only after ready, nothing after cancel or complete);
* with --demo-log, agreement with the commands the example logged (orders, customers, which
  orders were readied, canceled, completed, how many events were published).

Exit status: 0 when all four event types were seen and every check passed, 1 when a check
failed or a type was not seen, 2 when the checker could not run (no NATS, no protoc, ...).

Stop condition: with --done-file, after that file appears (its content, if any, is the exit
status of the producer; non-zero is a failure) and no message arrived for --settle seconds;
without it, once all four types were seen and no message arrived for --settle seconds. Either
way at most --timeout seconds after the subscription started.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import importlib
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SOURCE = "ordering"
AGGREGATE_TYPE = "Order"
SUBJECT_PREFIX = "ordering.order"
SPECVERSION = "1.0"
CONTENT_TYPE = "application/protobuf"

# ce-type -> (proto message name, name of its timestamp field)
EVENT_TYPES = {
    "OrderCreatedEvent": ("OrderCreated", "created_at"),
    "OrderReadiedEvent": ("OrderReadied", "readied_at"),
    "OrderCanceledEvent": ("OrderCanceled", "canceled_at"),
    "OrderCompletedEvent": ("OrderCompleted", "completed_at"),
}

REQUIRED_HEADERS = [
    "ce-specversion",
    "ce-id",
    "ce-type",
    "ce-source",
    "ce-subject",
    "ce-time",
    "ce-datacontenttype",
    "ce-aggregateid",
    "ce-aggregatetype",
    "ce-aggregateversion",
    "ce-domaineventid",
    "Nats-Msg-Id",
]

# Written only when they apply (correlation/causation metadata, the runtime feature `otel`).
OPTIONAL_HEADERS = ["ce-correlationid", "ce-causationid", "traceparent", "tracestate"]
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")

# RFC 3339 date-time (section 5.6), upper- or lower-case T/Z as the RFC allows.
RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
CANONICAL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def generate_protos(proto_root: Path, out_dir: Path):
    """Compiles ordering/v1/events.proto with grpc_tools' protoc into out_dir and imports it."""
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{proto_root}",
        f"--python_out={out_dir}",
        "ordering/v1/events.proto",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"protoc failed ({' '.join(cmd)}):\n{done.stderr}")
    sys.path.insert(0, str(out_dir))
    return importlib.import_module("ordering.v1.events_pb2")


def parse_rfc3339(text: str):
    """(seconds since epoch, nanos) of an RFC 3339 date-time, or None when it is not one."""
    m = RFC3339.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, offset = m.group(7), m.group(8)
    if second == 60:  # leap second: valid RFC 3339, not representable here
        second = 59
    try:
        base = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
    except ValueError:
        return None
    seconds = int(base.timestamp())
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        oh, om = int(offset[1:3]), int(offset[4:6])
        if oh > 23 or om > 59:
            return None
        seconds -= sign * (oh * 3600 + om * 60)
    nanos = int((fraction or "0")[:9].ljust(9, "0"))
    return seconds, nanos


@dataclass
class Seen:
    """One distinct integration event (by ce-id) as received."""

    subject: str
    ce_type: str
    ce_id: str
    headers: dict
    data: bytes
    payload: object  # decoded protobuf message, or None


@dataclass
class Checker:
    pb: object
    failures: list = field(default_factory=list)
    notes: list = field(default_factory=list)
    received: int = 0
    events: list = field(default_factory=list)  # Seen, distinct, in arrival order
    by_id: dict = field(default_factory=dict)
    last_arrival: float = field(default_factory=time.monotonic)

    def fail(self, where: str, what: str):
        self.failures.append(f"{where}: {what}")

    # -- per message -------------------------------------------------------------------------

    def on_message(self, subject: str, raw_headers, data: bytes):
        self.received += 1
        self.last_arrival = time.monotonic()
        headers = dict(raw_headers or {})
        lower = {k.lower(): v for k, v in headers.items()}
        ce_id = lower.get("ce-id", "")
        where = f"{subject} ce-id={ce_id or '?'}"

        if ce_id and ce_id in self.by_id:
            first = self.by_id[ce_id]
            if first.data == data and first.headers == headers and first.subject == subject:
                self.notes.append(f"{where}: received again (identical copy, counted once)")
            else:
                self.fail(where, "a second, different message with the same ce-id")
            return

        tokens = subject.split(".")
        last = tokens[-1]
        if ".".join(tokens[:-1]) != SUBJECT_PREFIX:
            self.fail(where, f"subject is not `{SUBJECT_PREFIX}.<event>`")

        for name in REQUIRED_HEADERS:
            if name.lower() not in lower:
                self.fail(where, f"header `{name}` missing (headers: {sorted(headers)})")
        for name in headers:
            if name.lower().startswith("ce-") and name != name.lower():
                self.notes.append(f"{where}: header name `{name}` is not lower-case")

        def h(name):
            return lower.get(name.lower())

        for name in OPTIONAL_HEADERS:
            if h(name) == "":
                self.fail(where, f"optional header `{name}` is present but empty")
        traceparent = h("traceparent")
        if traceparent is not None and not TRACEPARENT.match(traceparent):
            self.fail(where, f"traceparent {traceparent!r} is not W3C Trace Context")
        if h("ce-specversion") is not None and h("ce-specversion") != SPECVERSION:
            self.fail(where, f"ce-specversion is {h('ce-specversion')!r}, want {SPECVERSION!r}")
        ce_type = h("ce-type")
        if ce_type is not None:
            if ce_type != last:
                self.fail(where, f"ce-type {ce_type!r} is not the last subject token {last!r}")
            if ce_type not in EVENT_TYPES:
                self.fail(where, f"ce-type {ce_type!r} is not one of {sorted(EVENT_TYPES)}")
        if h("ce-source") is not None and h("ce-source") != SOURCE:
            self.fail(where, f"ce-source is {h('ce-source')!r}, want {SOURCE!r}")
        if h("ce-datacontenttype") is not None and h("ce-datacontenttype") != CONTENT_TYPE:
            self.fail(
                where, f"ce-datacontenttype is {h('ce-datacontenttype')!r}, want {CONTENT_TYPE!r}"
            )
        if h("ce-aggregatetype") is not None and h("ce-aggregatetype") != AGGREGATE_TYPE:
            self.fail(where, f"ce-aggregatetype is {h('ce-aggregatetype')!r}, want {AGGREGATE_TYPE!r}")
        ce_time = h("ce-time")
        time_value = None
        if ce_time is not None:
            time_value = parse_rfc3339(ce_time)
            if time_value is None:
                self.fail(where, f"ce-time {ce_time!r} is not RFC 3339")
        if ce_id:
            if not CANONICAL_UUID.match(ce_id):
                self.fail(where, f"ce-id {ce_id!r} is not a (lower-case hyphenated) UUID")
            if h("Nats-Msg-Id") is not None and h("Nats-Msg-Id") != ce_id:
                self.fail(where, f"Nats-Msg-Id {h('Nats-Msg-Id')!r} != ce-id {ce_id!r}")
            domain_id = h("ce-domaineventid")
            if domain_id is not None and ce_type is not None:
                if not CANONICAL_UUID.match(domain_id):
                    self.fail(where, f"ce-domaineventid {domain_id!r} is not a UUID")
                elif str(uuid.uuid5(uuid.UUID(domain_id), ce_type)) != ce_id:
                    self.fail(where, "ce-id is not UUIDv5(ce-domaineventid, ce-type)")

        payload = None
        if ce_type in EVENT_TYPES:
            message_name, time_field = EVENT_TYPES[ce_type]
            payload = getattr(self.pb, message_name)()
            try:
                payload.ParseFromString(data)
            except Exception as err:  # noqa: BLE001 - report any decode error
                self.fail(where, f"payload does not decode as ordering.v1.{message_name}: {err}")
                payload = None
        if payload is not None:
            self.check_payload(where, payload, lower, time_field, time_value)

        seen = Seen(subject, ce_type or last, ce_id, headers, data, payload)
        self.events.append(seen)
        if ce_id:
            self.by_id[ce_id] = seen

    def check_payload(self, where, payload, lower, time_field, time_value):
        try:
            from google.protobuf import unknown_fields

            if len(unknown_fields.UnknownFieldSet(payload)):
                self.fail(where, "payload has fields unknown to proto/ordering/v1/events.proto")
        except ImportError:
            pass
        if payload.id != lower.get("ce-id"):
            self.fail(where, f"payload id {payload.id!r} != ce-id {lower.get('ce-id')!r}")
        for name in ("ce-aggregateid", "ce-subject"):
            if name in lower and lower[name] != payload.order_id:
                self.fail(where, f"{name} {lower[name]!r} != payload order_id {payload.order_id!r}")
        version = lower.get("ce-aggregateversion")
        if version is not None and version != str(payload.order_version):
            self.fail(
                where,
                f"ce-aggregateversion {version!r} != payload order_version {payload.order_version}",
            )
        for name in ("id", "order_id", "customer_id"):
            if not getattr(payload, name):
                self.fail(where, f"payload field `{name}` is empty")
        if not payload.HasField(time_field):
            self.fail(where, f"payload field `{time_field}` is not set")
        elif time_value is not None:
            ts = getattr(payload, time_field)
            if (ts.seconds, ts.nanos) != time_value:
                self.fail(
                    where,
                    f"ce-time {lower.get('ce-time')!r} != payload {time_field} "
                    f"{ts.ToJsonString()}",
                )

    # -- across messages ---------------------------------------------------------------------

    def check_orders(self):
        """Per-order consistency; returns {order_id: summary dict}."""
        orders = collections.OrderedDict()
        for ev in self.events:
            if ev.payload is None:
                continue
            orders.setdefault(ev.payload.order_id, []).append(ev)
        summary = collections.OrderedDict()
        for order_id, evs in orders.items():
            where = f"order {order_id}"
            types = [e.ce_type for e in evs]
            created = [e.payload for e in evs if e.ce_type == "OrderCreatedEvent"]
            info = {"customer": None, "total": None, "steps": types}
            summary[order_id] = info
            if len(created) != 1:
                self.fail(where, f"{len(created)} OrderCreatedEvent (want exactly 1); saw {types}")
            if types[0] != "OrderCreatedEvent":
                self.fail(where, f"first event is {types[0]}, not OrderCreatedEvent")
            versions = [e.payload.order_version for e in evs]
            if versions != list(range(1, len(evs) + 1)):
                self.fail(where, f"order versions in publish order are {versions}, want 1..{len(evs)}")
            for t in set(types):
                if types.count(t) > 1:
                    self.fail(where, f"{types.count(t)} {t} events")
            if "OrderCompletedEvent" in types:
                i = types.index("OrderCompletedEvent")
                if "OrderReadiedEvent" not in types[:i]:
                    self.fail(where, "completed without being readied first")
            for terminal in ("OrderCanceledEvent", "OrderCompletedEvent"):
                if terminal in types and types.index(terminal) != len(types) - 1:
                    self.fail(where, f"events after {terminal}: {types}")
            customers = {e.payload.customer_id for e in evs}
            if len(customers) != 1:
                self.fail(where, f"customer ids disagree between events: {sorted(customers)}")
            payments = {
                e.payload.payment_id
                for e in evs
                if e.ce_type in ("OrderCreatedEvent", "OrderReadiedEvent", "OrderCanceledEvent")
            }
            if len(payments) > 1:
                self.fail(where, f"payment ids disagree between events: {sorted(payments)}")
            info["customer"] = sorted(customers)[0]
            if created:
                c = created[0]
                if not c.items:
                    self.fail(where, "OrderCreated has no items")
                for item in c.items:
                    if item.quantity <= 0:
                        self.fail(where, f"item {item.product_id!r} has quantity {item.quantity}")
                    if not item.product_id:
                        self.fail(where, "an item has an empty product_id")
                items_sum = sum(i.unit_price_cents * i.quantity for i in c.items)
                if c.total_cents != items_sum:
                    self.fail(
                        where,
                        f"OrderCreated total_cents {c.total_cents} != sum of items {items_sum}",
                    )
                if not c.currency:
                    self.fail(where, "OrderCreated currency is empty")
                info["total"] = c.total_cents
                info["currency"] = c.currency
                info["items"] = len(c.items)
                for e in evs:
                    if e.ce_type == "OrderReadiedEvent" and e.payload.total_cents != c.total_cents:
                        self.fail(
                            where,
                            f"OrderReadied total_cents {e.payload.total_cents} != "
                            f"OrderCreated total_cents {c.total_cents}",
                        )
            for e in evs:
                if e.ce_type == "OrderCompletedEvent":
                    if not e.payload.invoice_id:
                        self.fail(where, "OrderCompleted invoice_id is empty")
                    if not e.payload.emitted_by:
                        self.fail(where, "OrderCompleted emitted_by is empty")
                if e.ce_type == "OrderCanceledEvent" and not e.payload.reason:
                    self.fail(where, "OrderCanceled reason is empty")
        return summary

    def check_demo_log(self, log_text: str, summary):
        """Compares what was received with the commands the example logged."""
        created = dict(re.findall(r"command: CreateOrder (\S+) for (\S+)", log_text))
        expected = {
            "OrderCreatedEvent": set(created),
            "OrderReadiedEvent": set(re.findall(r"command: ReadyOrder (\S+)", log_text)),
            "OrderCanceledEvent": set(re.findall(r"command: CancelOrder (\S+)", log_text)),
            "OrderCompletedEvent": set(re.findall(r"command: CompleteOrder (\S+)", log_text)),
        }
        if not created:
            self.fail("demo log", "no `command: CreateOrder` line: cannot compare")
            return
        for ce_type, want in expected.items():
            got = {e.payload.order_id for e in self.events if e.ce_type == ce_type and e.payload}
            if got != want:
                self.fail(
                    "demo log",
                    f"{ce_type}: received for {sorted(got)}, the example commanded {sorted(want)}",
                )
        for order_id, customer in created.items():
            info = summary.get(order_id)
            if info and info["customer"] != customer:
                self.fail(
                    f"order {order_id}",
                    f"customer_id {info['customer']!r}, the example created it for {customer!r}",
                )
        published = re.findall(r"published (\d+) integration events", log_text)
        if published and int(published[-1]) != len(self.events):
            self.fail(
                "demo log",
                f"the example published {published[-1]} integration events, "
                f"{len(self.events)} distinct ones were received",
            )


async def listen(args, checker: Checker) -> tuple[bool, str | None]:
    """Subscribes and waits for the stop condition. Returns (timed_out, producer_status)."""
    import nats

    errors = []

    async def on_error(err):  # keep nats-py from logging a traceback per attempt
        errors.append(err)

    try:
        nc = await asyncio.wait_for(
            nats.connect(
                args.server,
                connect_timeout=5,
                allow_reconnect=False,
                max_reconnect_attempts=2,
                reconnect_time_wait=0.5,
                error_cb=on_error,
                name="eventmap-cross-language-listener",
            ),
            timeout=15,
        )
    except Exception as err:
        raise RuntimeError(f"{err!r}; last error: {errors[-1] if errors else None!r}") from err
    try:

        async def on_msg(msg):
            checker.on_message(msg.subject, msg.headers, msg.data)

        await nc.subscribe(args.subject, cb=on_msg)
        await nc.flush(timeout=5)  # the server has the subscription from here on
        print(
            f"listening on {args.subject} at {args.server} "
            f"(server {nc.connected_server_version})",
            flush=True,
        )
        if args.ready_file:
            Path(args.ready_file).write_text("ready\n")
        deadline = time.monotonic() + args.timeout
        producer_status = None
        done_since = None
        while True:
            now = time.monotonic()
            if now >= deadline:
                return True, producer_status
            if args.done_file:
                if done_since is None and os.path.exists(args.done_file):
                    done_since = now
                    producer_status = Path(args.done_file).read_text().strip() or None
                    await nc.flush(timeout=5)
                finished = done_since is not None
            else:
                finished = {e.ce_type for e in checker.events} >= set(EVENT_TYPES)
            quiet = now - max(checker.last_arrival, done_since or 0) >= args.settle
            if finished and quiet:
                return False, producer_status
            await asyncio.sleep(0.05)
    finally:
        await nc.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server", default=os.environ.get("NATS_URL") or "nats://127.0.0.1:4222"
    )
    parser.add_argument("--subject", default=f"{SUBJECT_PREFIX}.>")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    parser.add_argument(
        "--settle", type=float, default=2.0, help="quiet seconds before finishing (default 2)"
    )
    parser.add_argument("--proto-root", type=Path, default=REPO / "proto")
    parser.add_argument("--ready-file", help="written once the subscription is in place")
    parser.add_argument(
        "--done-file", help="finish once this file exists (content: the producer's exit status)"
    )
    parser.add_argument("--demo-log", help="the example's stdout, to compare with its commands")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="eventmap-pb-") as tmp:
        try:
            pb = generate_protos(args.proto_root, Path(tmp))
        except Exception as err:  # noqa: BLE001
            print(f"listen.py: cannot generate the protobuf classes: {err}", file=sys.stderr)
            return 2
        checker = Checker(pb)
        try:
            timed_out, producer_status = asyncio.run(listen(args, checker))
        except Exception as err:  # noqa: BLE001
            print(f"listen.py: cannot listen on {args.server}: {err}", file=sys.stderr)
            return 2

    summary = checker.check_orders()
    if args.demo_log:
        try:
            log_text = Path(args.demo_log).read_text()
        except OSError as err:
            checker.fail("demo log", f"cannot read {args.demo_log}: {err}")
        else:
            checker.check_demo_log(log_text, summary)
    if timed_out:
        checker.fail("listener", f"stop condition not reached within {args.timeout:g} s")
    if producer_status not in (None, "0"):
        checker.fail("producer", f"the example exited with status {producer_status}")
    counts = collections.Counter(e.ce_type for e in checker.events)
    for ce_type in EVENT_TYPES:
        if counts[ce_type] == 0:
            checker.fail("coverage", f"no {ce_type} received")

    print(
        f"received {checker.received} messages, {len(checker.events)} distinct integration "
        f"events, {len(summary)} orders"
    )
    for ce_type in EVENT_TYPES:
        print(f"  {ce_type:<20} {counts[ce_type]}")
    for name in sorted(set(counts) - set(EVENT_TYPES)):
        print(f"  {name:<20} {counts[name]} (unexpected)")
    for order_id, info in summary.items():
        total = info.get("total")
        money = f"{total / 100:.2f} {info.get('currency', '')}" if total is not None else "?"
        steps = " -> ".join(t.removeprefix("Order").removesuffix("Event") for t in info["steps"])
        print(f"  {order_id}  customer={info['customer']}  total={money}  {steps}")
    for note in checker.notes:
        print(f"note: {note}")
    if checker.failures:
        print(f"FAIL: {len(checker.failures)} problem(s):", file=sys.stderr)
        for failure in checker.failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    print(
        "ok: all four integration event types seen; CloudEvents headers, payloads and "
        "per-order totals/ids consistent"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
