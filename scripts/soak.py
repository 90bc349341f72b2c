#!/usr/bin/env python3
"""Soak test for Sluice (issue 9): hours of mixed load against one `sluice serve`.

It starts its own server (a private loopback port, a temporary data dir), runs for
--minutes and stops by itself, ending only the processes it started (by PID):

  ingest    a steady /inserts-stream (HTTP/1.1 chunked over a raw socket, acks read
            concurrently) into SOAK_ROWS; every acked row id is remembered
  bench     `sluice bench … --json` every --bench-every minutes (it fails unless every
            push query saw every acked row); bench drops and recreates its bench_* streams
  push      /query-stream push queries (from latest: must see every row acked after they
            started; from earliest with LIMIT), /query with LIMIT, /close-query
  pull      point and LIMIT pull queries on /query-stream and /query
  ddl       CREATE/DROP STREAM, CSAS, INSERT VALUES, TERMINATE, and the errors they must give
  bad       invalid/oversized rows and statements, garbage bodies, half-sent headers: each
            must get an error response, and /healthcheck must stay healthy
  kills     every --kill-every minutes SIGKILL, restart on the same data dir, and read
            SOAK_ROWS back: an acked row must never be missing; duplicates are reported
  sampler   the server's RSS, open fds and threads every --sample-every seconds to a CSV

Outputs go to --out (a new temporary directory by default): samples.csv, summary.json,
server logs and bench reports. The exit status is 1 if an acked row went missing or any
check failed. Standard library only.
"""

import argparse
import collections
import http.client
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

STREAM = "SOAK_ROWS"
# The server's limits (protocol/src/limits.rs, engine/src/limits.rs): inputs just past
# them must be refused.
ROW_BYTES_MAX = 1024 * 1024
REQUEST_BODY_BYTES_MAX = 1024 * 1024
IDENTIFIER_CHARS_MAX = 249
# The server closes a half-sent request head after this (server/src/limits.rs).
HEADER_READ_TIMEOUT_S = 10
# How long a restarted server may take to recover its log and listen.
START_TIMEOUT_S = 180
# Socket timeout of every request the soak makes: nothing should take longer on loopback.
REQUEST_TIMEOUT_S = 60
# A push query must have delivered an acked row within this long.
PUSH_DELIVERY_GRACE_S = 5
# Unacked rows one ingest request may have in flight.
INGEST_WINDOW_ROWS = 20_000
# How long one ingest request streams before it ends its body and opens the next.
INGEST_REQUEST_S = 45
# Examples of each failure kind kept for the summary.
EXAMPLES_PER_KIND = 5


class Stats:
    """Counters shared by every worker; each failure is kept by kind with a few examples."""

    def __init__(self):
        self.lock = threading.Lock()
        self.passed = collections.Counter()
        self.failed = collections.Counter()
        self.interrupted = collections.Counter()
        self.examples = collections.defaultdict(list)

    def ok(self, kind):
        with self.lock:
            self.passed[kind] += 1

    def fail(self, kind, detail):
        with self.lock:
            self.failed[kind] += 1
            if len(self.examples[kind]) < EXAMPLES_PER_KIND:
                self.examples[kind].append(f"{time.strftime('%H:%M:%S')} {detail}"[:500])
        log(f"FAIL {kind}: {str(detail)[:300]}")

    def check(self, kind, condition, detail):
        if condition:
            self.ok(kind)
        else:
            self.fail(kind, detail)
        return condition

    def interrupt(self, kind):
        with self.lock:
            self.interrupted[kind] += 1


def log(msg):
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Server:
    """The `sluice serve` child. `alive` is cleared before every kill, so a worker whose
    request fails can tell a deliberate kill from a real error; `epoch` counts starts."""

    def __init__(self, binary, data_dir, out_dir):
        self.binary = binary
        self.data_dir = data_dir
        self.out_dir = out_dir
        self.port = 0
        self.proc = None
        self.epoch = 0
        self.alive = threading.Event()
        self.start_seconds = []

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        began = time.monotonic()
        for port in ([self.port, 0] if self.port else [0]):
            if self._spawn(port):
                break
        else:
            raise RuntimeError("the server did not start; see its log in " + self.out_dir)
        self.start_seconds.append(round(time.monotonic() - began, 2))
        self.epoch += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        healthy_now = False
        while time.monotonic() < deadline and not healthy_now:
            try:
                status, _ = request(self, "GET", "/healthcheck", timeout=5)
                healthy_now = status == 200
            except OSError:
                pass
            if not healthy_now:
                time.sleep(0.2)
        self.alive.set()
        return healthy_now

    def _spawn(self, port):
        log_path = os.path.join(self.out_dir, f"server-{self.epoch}.log")
        log_file = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "--listen", f"127.0.0.1:{port}", "--data-dir", self.data_dir],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log_file,
        )
        log_file.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        line = b""
        while time.monotonic() < deadline and self.proc.poll() is None:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if not ready:
                continue
            line = self.proc.stdout.readline()
            if b"listening on http://" in line or not line:
                break
        if b"listening on http://" not in line:
            self._reap()
            return False
        self.port = int(line.strip().rsplit(b":", 1)[1])
        # Keep draining stdout so a chatty server can never block on a full pipe.
        threading.Thread(target=self._drain, args=(self.proc, log_path), daemon=True).start()
        return True

    @staticmethod
    def _drain(proc, log_path):
        with open(log_path, "ab") as f:
            for line in proc.stdout:
                f.write(line)

    def _reap(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def kill(self):
        self.alive.clear()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        """SIGTERM, then SIGKILL if it does not exit in time. Returns the exit status."""
        self.alive.clear()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode


def request(srv, method, path, body=None, headers=None, timeout=REQUEST_TIMEOUT_S):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def ksql(srv, statement, props=None):
    body = {"ksql": statement, "streamsProperties": props or {}}
    status, data = request(srv, "POST", "/ksql", json.dumps(body))
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data


def pull_rows(srv, sql, props=None):
    """Runs a query on /query-stream to its end; returns (status, header, rows)."""
    status, data = request(srv, "POST", "/query-stream",
                           json.dumps({"sql": sql, "properties": props or {}}))
    if status != 200:
        return status, data, []
    lines = data.split(b"\n")
    header = json.loads(lines[0])
    return status, header, [json.loads(line) for line in lines[1:] if line.strip()]


def healthy(srv):
    status, data = request(srv, "GET", "/healthcheck", timeout=15)
    return status == 200 and json.loads(data).get("isHealthy") is True, (status, data[:200])


class Interrupted(Exception):
    """A check failed in a step that a kill cut short: the kill, not the server, is why."""


class Worker(threading.Thread):
    """Runs `step` until stopped; a step that fails while the server is being killed counts
    as interrupted, not failed."""

    kind = "worker"
    period_s = 5.0

    def __init__(self, srv, stats, stop):
        super().__init__(name=self.kind, daemon=True)
        self.srv, self.stats, self.stop = srv, stats, stop

    def run(self):
        while not self.stop.is_set():
            if not self.srv.alive.wait(1.0):
                continue
            self.epoch = self.srv.epoch
            try:
                self.step()
            except Exception as e:  # noqa: BLE001 - every error is recorded by kind
                if isinstance(e, Interrupted) or self.killed_meanwhile():
                    self.stats.interrupt(self.kind)
                else:
                    self.stats.fail(f"{self.kind}.error", f"{type(e).__name__}: {e}")
            self.stop.wait(self.period_s * random.uniform(0.5, 1.5))

    def step(self):
        raise NotImplementedError

    def killed_meanwhile(self):
        return self.srv.epoch != self.epoch or not self.srv.alive.is_set()

    def check(self, kind, condition, detail):
        if not condition and self.killed_meanwhile():
            raise Interrupted(kind)
        return self.stats.check(kind, condition, detail)


class Ingest(threading.Thread):
    """A steady stream of rows into SOAK_ROWS. Row ids are 0, 1, 2, … in send order;
    `acked[id]` is set when the server acked it. `active` is held for a whole request, so
    the killer can wait until every ack the dead server sent has been read."""

    def __init__(self, srv, stats, stop, rate, row_bytes):
        super().__init__(name="ingest", daemon=True)
        self.srv, self.stats, self.stop = srv, stats, stop
        self.rate, self.row_bytes = rate, row_bytes
        self.active = threading.Lock()
        self.lock = threading.Lock()
        self.next_id = 0
        self.acked = bytearray()
        self.acked_count = 0
        self.requests = 0

    def row(self, row_id):
        head = f'{{"ID":{row_id},"W":{row_id % 1000},"PAD":"'
        pad = "p" * max(0, self.row_bytes - len(head) - 2)
        return (head + pad + '"}\n').encode()

    def run(self):
        while not self.stop.is_set():
            if not self.srv.alive.wait(1.0):
                continue
            with self.active:
                if not self.srv.alive.is_set():
                    continue
                epoch = self.srv.epoch
                try:
                    self.one_request()
                    self.stats.ok("ingest.request")
                except Exception as e:  # noqa: BLE001
                    if self.srv.epoch != epoch or not self.srv.alive.is_set():
                        self.stats.interrupt("ingest")
                    else:
                        self.stats.fail("ingest.error", f"{type(e).__name__}: {e}")
                        self.stop.wait(1.0)

    def one_request(self):
        sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=REQUEST_TIMEOUT_S)
        ids = []
        acks = {"n": 0, "error": None, "done": False}
        reader = threading.Thread(target=self.read_acks, args=(sock, ids, acks), daemon=True)
        try:
            sock.sendall(b"POST /inserts-stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            send_chunk(sock, f'{{"target":"{STREAM}"}}\n'.encode())
            reader.start()
            began = time.monotonic()
            sent = 0
            while time.monotonic() - began < INGEST_REQUEST_S and not self.stop.is_set():
                if acks["error"] or acks["done"]:
                    break
                due = int((time.monotonic() - began) * self.rate) - sent
                if due <= 0 or sent - acks["n"] >= INGEST_WINDOW_ROWS:
                    time.sleep(0.02)
                    continue
                with self.lock:
                    first = self.next_id
                    self.next_id += due
                    self.acked.extend(bytes(due))
                ids.extend(range(first, first + due))
                send_chunk(sock, b"".join(self.row(i) for i in range(first, first + due)))
                sent += due
            sock.sendall(b"0\r\n\r\n")
            reader.join(REQUEST_TIMEOUT_S)
        finally:
            sock.close()
            reader.join(5) if reader.is_alive() else None
        self.requests += 1
        if acks["error"]:
            raise RuntimeError(acks["error"])
        if acks["n"] != len(ids):
            raise RuntimeError(f"{acks['n']} acks for {len(ids)} rows")

    def read_acks(self, sock, ids, acks):
        try:
            reader = ChunkedReader(sock)
            status = reader.read_head()
            if status != 200:
                acks["error"] = f"status {status}: {reader.read_rest()[:200]!r}"
                return
            for line in reader.lines():
                ack = json.loads(line)
                if ack.get("status") != "ok":
                    acks["error"] = f"error ack: {line[:200]!r}"
                    return
                if ack["seq"] != acks["n"]:
                    acks["error"] = f"ack seq {ack['seq']} where {acks['n']} was due"
                    return
                row_id = ids[ack["seq"]]
                with self.lock:
                    if not self.acked[row_id]:
                        self.acked[row_id] = 1
                        self.acked_count += 1
                acks["n"] += 1
        except Exception as e:  # noqa: BLE001 - the request side reports it
            acks["error"] = acks["error"] or f"{type(e).__name__}: {e}"
        finally:
            acks["done"] = True

    def snapshot(self):
        with self.lock:
            return bytes(self.acked), self.acked_count, self.next_id


def send_chunk(sock, data):
    sock.sendall(b"%x\r\n%s\r\n" % (len(data), data))


class ChunkedReader:
    """An HTTP/1.1 response read off a raw socket: head, then a chunked (or sized) body."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.headers = {}

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_head(self):
        status = int(self._line().split()[1])
        while True:
            line = self._line()
            if not line:
                return status
            name, _, value = line.partition(b":")
            self.headers[name.strip().lower()] = value.strip().lower()

    def body_chunks(self):
        if self.headers.get(b"transfer-encoding") != b"chunked":
            length = int(self.headers.get(b"content-length", b"0"))
            while len(self.buf) < length:
                self._fill()
            yield self.buf[:length]
            return
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                return
            while len(self.buf) < size + 2:
                self._fill()
            yield self.buf[:size]
            self.buf = self.buf[size + 2:]

    def lines(self):
        pending = b""
        for chunk in self.body_chunks():
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                if line.strip():
                    yield line
        if pending.strip():
            yield pending

    def read_rest(self):
        try:
            return b"".join(self.body_chunks())
        except (EOFError, ValueError, OSError):
            return self.buf


class PushQueries(Worker):
    kind = "push"
    period_s = 4.0

    def __init__(self, srv, stats, stop, ingest):
        super().__init__(srv, stats, stop)
        self.ingest = ingest

    def step(self):
        random.choice([self.live, self.live, self.earliest_limit, self.old_query_limit])()

    def live(self):
        """From latest: every row acked after the header came must arrive; /close-query must
        end the response."""
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request("POST", "/query-stream",
                         json.dumps({"sql": f"SELECT ID FROM {STREAM} EMIT CHANGES;", "properties": {}}),
                         {"Content-Type": "application/json"})
            resp = conn.getresponse()
            if resp.status != 200:
                self.check("push.live.status", False, f"status {resp.status}: {resp.read()[:200]!r}")
                return
            header = json.loads(resp.readline())
            with self.ingest.lock:
                first_id = self.ingest.next_id
            seen, ended = [], threading.Event()

            def read():
                try:
                    for line in iter(resp.readline, b""):
                        if line.strip():
                            seen.append(json.loads(line)[0])
                finally:
                    ended.set()

            threading.Thread(target=read, daemon=True).start()
            self.stop.wait(random.uniform(3, 12))
            acked, _, next_id = self.ingest.snapshot()
            expected = [i for i in range(first_id, next_id) if acked[i]]
            time.sleep(PUSH_DELIVERY_GRACE_S)
            status, body = request(self.srv, "POST", "/close-query",
                                   json.dumps({"queryId": header["queryId"]}))
            self.check("push.close", status == 200, f"/close-query {status}: {body[:200]!r}")
            self.check("push.close_ends_response", ended.wait(15),
                             "response still open 15 s after /close-query")
            got = set(seen)
            missing = [i for i in expected if i not in got]
            self.check("push.live.saw_acked_rows", expected and not missing,
                             f"{len(missing)} of {len(expected)} acked rows not delivered, "
                             f"first {missing[:5]}")
            self.check("push.live.no_duplicates", len(got) == len(seen),
                             f"{len(seen) - len(got)} duplicate rows")
            with self.ingest.lock:
                sent = self.ingest.next_id
            self.check("push.live.only_sent_rows", all(0 <= i < sent for i in got),
                             "a row id that was never sent")
        finally:
            conn.close()

    def earliest_limit(self):
        """From earliest with LIMIT: the rows are old ones (sent before the query started),
        and the response ends by itself."""
        limit = random.randint(1, 200)
        _, acked_count, next_id = self.ingest.snapshot()
        if acked_count < 10 * limit:
            return
        status, header, rows = pull_rows(self.srv, f"SELECT ID FROM {STREAM} EMIT CHANGES LIMIT {limit};",
                                         {"auto.offset.reset": "earliest"})
        if self.check("push.earliest_limit.status", status == 200, f"status {status}: {header!r:.200}"):
            self.check("push.earliest_limit.rows", len(rows) == limit
                             and all(r[0] < next_id for r in rows),
                             f"LIMIT {limit} from earliest gave {len(rows)} rows, "
                             f"{sum(r[0] >= next_id for r in rows)} sent after it started")

    def old_query_limit(self):
        """The old /query endpoint (StreamedRow array) with LIMIT from earliest."""
        limit = random.randint(1, 50)
        _, acked_count, next_id = self.ingest.snapshot()
        if acked_count < 10 * limit:
            return
        body = {"ksql": f"SELECT * FROM {STREAM} EMIT CHANGES LIMIT {limit};",
                "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}}
        status, data = request(self.srv, "POST", "/query", json.dumps(body))
        if not self.check("push.query_endpoint.status", status == 200, f"status {status}: {data[:200]!r}"):
            return
        items = json.loads(data)
        rows = [i for i in items if "row" in i]
        self.check("push.query_endpoint.rows",
                         "header" in items[0] and len(rows) == limit
                         and items[-1].get("finalMessage") == "Limit Reached"
                         and all(r["row"]["columns"][0] < next_id for r in rows),
                         f"LIMIT {limit}: {len(rows)} rows, last {items[-1]!r:.200}")


class PullQueries(Worker):
    kind = "pull"
    period_s = 6.0

    def __init__(self, srv, stats, stop, ingest):
        super().__init__(srv, stats, stop)
        self.ingest = ingest

    def step(self):
        acked, acked_count, next_id = self.ingest.snapshot()
        if acked_count == 0:
            return
        # A point lookup of an acked row scans the stream: keep it occasional.
        if random.random() < 0.3:
            row_id = random.randrange(next_id)
            while not acked[row_id]:
                row_id = random.randrange(next_id)
            status, header, rows = pull_rows(self.srv, f"SELECT ID, W FROM {STREAM} WHERE ID = {row_id};")
            if self.check("pull.point.status", status == 200, f"status {status}: {header!r:.200}"):
                self.check("pull.point.found_once", rows == [[row_id, row_id % 1000]],
                                 f"ID = {row_id} gave {rows!r:.200}")
        limit = random.randint(1, 100)
        status, header, rows = pull_rows(self.srv, f"SELECT * FROM {STREAM} LIMIT {limit};")
        if self.check("pull.limit.status", status == 200, f"status {status}: {header!r:.200}"):
            self.check("pull.limit.rows", len(rows) == min(limit, acked_count),
                             f"LIMIT {limit} gave {len(rows)} rows")
        status, data = request(self.srv, "POST", "/query",
                               json.dumps({"ksql": f"SELECT ID FROM {STREAM} LIMIT 3;"}))
        self.check("pull.query_endpoint", status == 200 and data.count(b'"row"') == 3,
                         f"status {status}: {data[:200]!r}")
        status, header, _ = pull_rows(self.srv, "SELECT * FROM SOAK_NO_SUCH_STREAM;")
        self.check("pull.unknown_stream_refused", 400 <= status < 500, f"status {status}")


class DdlChurn(Worker):
    """CREATE, CSAS, INSERT VALUES, TERMINATE, DROP on fresh names, and the errors that
    repeating them must give. A cycle cut short by a kill leaves its streams behind."""

    kind = "ddl"
    period_s = 8.0

    def __init__(self, srv, stats, stop):
        super().__init__(srv, stats, stop)
        self.cycle = 0

    def expect(self, kind, statement, ok):
        status, body = ksql(self.srv, statement)
        good = (status == 200) if ok else (400 <= status < 500)
        self.check(f"ddl.{kind}", good, f"{statement[:120]} -> {status} {body!r:.200}")
        return body if good else None

    def step(self):
        self.cycle += 1
        src, out = f"SOAK_DDL_{self.cycle}", f"SOAK_DDL_{self.cycle}_OUT"
        create = (f"CREATE STREAM {src} (A INT, B STRING) WITH "
                  f"(kafka_topic='soak_ddl_{self.cycle}', value_format='JSON', partitions=2);")
        if self.expect("create", create, ok=True) is None:
            return
        self.expect("create_again_refused", create, ok=False)
        body = self.expect("csas", f"CREATE STREAM {out} AS SELECT A, UCASE(B) AS B FROM {src} EMIT CHANGES;",
                           ok=True)
        query_id = body[0]["commandStatus"].get("queryId") if body else None
        self.expect("insert_values", f"INSERT INTO {src} (A, B) VALUES ({self.cycle}, 'soak');", ok=True)
        deadline, rows = time.monotonic() + 20, []
        while time.monotonic() < deadline and not rows:
            _, _, rows = pull_rows(self.srv, f"SELECT * FROM {out};")
            if not rows:
                time.sleep(0.3)
        self.check("ddl.csas_output", rows == [[self.cycle, "SOAK"]],
                         f"{out} holds {rows!r:.200} 20 s after the insert")
        self.expect("drop_source_with_query_refused", f"DROP STREAM {src};", ok=False)
        if query_id:
            self.expect("terminate", f"TERMINATE {query_id};", ok=True)
            self.expect("terminate_again_refused", f"TERMINATE {query_id};", ok=False)
        self.expect("drop", f"DROP STREAM {out} DELETE TOPIC;", ok=True)
        self.expect("drop", f"DROP STREAM {src} DELETE TOPIC;", ok=True)
        self.expect("drop_again_refused", f"DROP STREAM {src};", ok=False)
        status, body = ksql(self.srv, "SHOW STREAMS;")
        names = [s["name"] for s in body[0]["streams"]] if status == 200 else None
        self.check("ddl.show_streams", names is not None and src not in names and out not in names,
                         f"SHOW STREAMS -> {status}, {src} still listed: {names!r:.200}")


class BadInput(Worker):
    """Inputs the server must refuse with an error response while staying healthy."""

    kind = "bad"
    period_s = 10.0

    def step(self):
        cases = [
            ("invalid_json_row", self.insert_error, [b'{"ID": 1, "W": ']),
            ("oversized_row", self.insert_error,
             [b'{"ID":1,"W":1,"PAD":"' + b"x" * (ROW_BYTES_MAX + 16) + b'"}']),
            ("lone_surrogate_row", self.insert_error, [b'{"ID":1,"W":1,"PAD":"x\\udc00y"}']),
            ("wrong_type_row", self.insert_error, [b'{"ID":"not a number","W":1,"PAD":"x"}']),
            ("unknown_target", self.insert_refused, [b'{"target":"SOAK_NO_SUCH_STREAM"}\n{"A":1}\n']),
            ("garbage_insert_body", self.insert_refused, [bytes(random.randrange(256) for _ in range(512))]),
            ("garbage_ksql_body", self.refused, ["/ksql", bytes(random.randrange(256) for _ in range(512))]),
            ("invalid_sql", self.refused, ["/ksql", json.dumps({"ksql": "CREATE STREEM nope (;"})]),
            ("oversized_statement", self.refused,
             ["/ksql", json.dumps({"ksql": "SHOW STREAMS; -- " + "x" * (REQUEST_BODY_BYTES_MAX + 1024)})]),
            ("long_identifier", self.refused,
             ["/ksql", json.dumps({"ksql": f"CREATE STREAM S{'X' * (IDENTIFIER_CHARS_MAX + 10)} (A INT) "
                                          "WITH (kafka_topic='soak_long', value_format='JSON');"})]),
            ("garbage_query_body", self.refused, ["/query-stream", b"\x00\xffnot json"]),
            ("invalid_query_sql", self.refused, ["/query-stream", json.dumps({"sql": "SELEKT * FROM;"})]),
            ("unknown_close_query", self.refused, ["/close-query", json.dumps({"queryId": "no_such_query"})]),
            ("garbage_request_line", self.raw_refused, [b"THIS IS NOT HTTP\r\n\r\n"]),
            ("bad_chunk_size", self.raw_refused,
             [b"POST /ksql HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"]),
            ("huge_header", self.raw_refused,
             [b"GET /info HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 600_000 + b"\r\n\r\n"]),
        ]
        for name, case, args in cases:
            if self.stop.is_set():
                return
            ok, detail = case(*args)
            self.check(f"bad.{name}", ok, detail)
        self.half_sent_heads()
        good, detail = healthy(self.srv)
        self.check("bad.healthy_after", good, detail)

    def insert(self, rows):
        body = f'{{"target":"{STREAM}_BAD"}}\n'.encode() + b"\n".join(rows) + b"\n"
        return request(self.srv, "POST", "/inserts-stream", body)

    def insert_error(self, row):
        """A bad row after a good one: the good one is acked, the bad one gets an error ack."""
        status, data = self.insert([b'{"ID":0,"W":0,"PAD":"ok"}', row])
        lines = [json.loads(line) for line in data.splitlines() if line.strip()] if status == 200 else []
        ok = (len(lines) == 2 and lines[0].get("status") == "ok" and lines[1].get("status") == "error"
              or 400 <= status < 500)
        return ok, f"status {status}: {data[:300]!r}"

    def insert_refused(self, body):
        status, data = request(self.srv, "POST", "/inserts-stream", body)
        errors = status == 200 and b'"status":"error"' in data and b'"status":"ok"' not in data
        return 400 <= status < 500 or errors, f"status {status}: {data[:300]!r}"

    def refused(self, path, body):
        status, data = request(self.srv, "POST", path, body)
        return 400 <= status < 500, f"status {status}: {data[:300]!r}"

    def raw_refused(self, payload):
        """A 4xx status line, then the connection closes."""
        with socket.create_connection(("127.0.0.1", self.srv.port), timeout=REQUEST_TIMEOUT_S) as sock:
            try:
                sock.sendall(payload)
            except OSError:
                pass  # the server may close before reading all of it
            reply = b""
            try:
                while len(reply) < 4096:
                    data = sock.recv(4096)
                    if not data:
                        break
                    reply += data
            except OSError:
                pass
        status = reply.split(b" ", 2)[1] if reply.startswith(b"HTTP/1.1 ") else b""
        return status.startswith(b"4"), f"reply {reply[:200]!r}"

    def half_sent_heads(self):
        """Connections that stop mid-header must be closed by the server's header timeout,
        while /healthcheck keeps answering."""
        socks = []
        for _ in range(16):
            sock = socket.create_connection(("127.0.0.1", self.srv.port), timeout=REQUEST_TIMEOUT_S)
            sock.sendall(b"POST /ksql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
            socks.append(sock)
        try:
            good, detail = healthy(self.srv)
            self.check("bad.healthy_with_half_sent_heads", good, detail)
            deadline = time.monotonic() + HEADER_READ_TIMEOUT_S + 20
            open_left = list(socks)
            while open_left and time.monotonic() < deadline and not self.stop.is_set():
                ready, _, _ = select.select(open_left, [], [], 1.0)
                for sock in ready:
                    try:
                        while sock.recv(4096):
                            pass
                    except OSError:
                        pass
                    open_left.remove(sock)
            if not self.stop.is_set():
                self.check("bad.half_sent_head_closed", not open_left,
                                 f"{len(open_left)} of {len(socks)} half-sent heads still open after "
                                 f"{HEADER_READ_TIMEOUT_S + 20} s")
        finally:
            for sock in socks:
                sock.close()


class Bench(threading.Thread):
    """`sluice bench` against the soak's server; `lock` keeps kills out of a run."""

    def __init__(self, srv, stats, stop, args):
        super().__init__(name="bench", daemon=True)
        self.srv, self.stats, self.stop, self.args = srv, stats, stop, args
        self.lock = threading.Lock()
        self.runs = []
        self.current = None

    def run(self):
        self.stop.wait(30)
        while not self.stop.is_set():
            with self.lock:
                if self.srv.alive.is_set() and not self.stop.is_set():
                    self.one_run()
            self.stop.wait(self.args.bench_every * 60)

    def one_run(self):
        a = self.args
        seconds = a.bench_rows / a.bench_rate
        cmd = [a.binary, "bench", "--addr", f"127.0.0.1:{self.srv.port}", "--server-pid", str(self.srv.pid),
               "--rate", str(a.bench_rate), "--rows", str(a.bench_rows), "--duration", str(seconds + 30),
               "--queries", str(a.bench_queries), "--json", "--quiet"]
        n = len(self.runs)
        out_path = os.path.join(a.out, f"bench-{n}.json")
        began = time.monotonic()
        with open(out_path, "wb") as out, open(os.path.join(a.out, f"bench-{n}.stderr"), "wb") as err:
            self.current = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
            try:
                code = self.current.wait(timeout=seconds + 180)
            except subprocess.TimeoutExpired:
                os.kill(self.current.pid, signal.SIGKILL)
                self.current.wait()
                code = "timeout"
            self.current = None
        run = {"exit": code, "seconds": round(time.monotonic() - began, 1)}
        try:
            with open(out_path) as f:
                report = json.load(f)
            run["report"] = summarize_bench(report)
        except (OSError, ValueError) as e:
            run["report_error"] = str(e)
        self.runs.append(run)
        self.stats.check("bench.run", code == 0, f"bench run {n} exited {code}; see {out_path}")
        log(f"bench run {n}: exit {code}, {json.dumps(run.get('report', {}))[:300]}")

    def stop_child(self):
        child = self.current
        if child is not None and child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)


def summarize_bench(report):
    """The figures of a bench report the soak's summary keeps."""
    consumers = report.get("consumers") or []
    return {
        "ok": report.get("ok"),
        "acked_rows": report.get("acked_rows"),
        "acked_rows_per_s": round(report.get("acked_rows_per_s") or 0),
        "ack_p99_us": (report.get("ack_latency") or {}).get("p99_us"),
        "e2e_p99_us": (report.get("e2e_latency") or {}).get("p99_us"),
        "queries": len(consumers),
        "missing": sum(c.get("missing") or 0 for c in consumers),
        "duplicates": sum(c.get("duplicates") or 0 for c in consumers),
        "server_rss_bytes": (report.get("server") or {}).get("rss_bytes"),
    }


class Sampler(threading.Thread):
    """The server's RSS, fds and threads from /proc, every few seconds, to samples.csv."""

    def __init__(self, srv, stop, ingest, out_dir, every):
        super().__init__(name="sampler", daemon=True)
        self.srv, self.stop, self.ingest, self.every = srv, stop, ingest, every
        self.path = os.path.join(out_dir, "samples.csv")
        self.max = {"rss_kb": 0, "fds": 0, "threads": 0}
        self.last = {}
        self.first_after_warmup = None
        self.began = time.monotonic()

    def run(self):
        with open(self.path, "w") as f:
            f.write("unix_time,elapsed_s,epoch,pid,rss_kb,fds,threads,rows_acked\n")
            while not self.stop.wait(self.every):
                pid = self.srv.pid
                sample = read_proc(pid) if pid and self.srv.alive.is_set() else None
                if sample is None:
                    continue
                elapsed = round(time.monotonic() - self.began, 1)
                f.write(f"{int(time.time())},{elapsed},{self.srv.epoch},{pid},{sample['rss_kb']},"
                        f"{sample['fds']},{sample['threads']},{self.ingest.acked_count}\n")
                f.flush()
                for k in self.max:
                    self.max[k] = max(self.max[k], sample[k])
                self.last = dict(sample, epoch=self.srv.epoch, elapsed_s=elapsed)


def read_proc(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
        return {
            "rss_kb": int(fields["VmRSS"].split()[0]),
            "threads": int(fields["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
        }
    except (OSError, KeyError, ValueError):
        return None


def verify(srv, ingest, stats, reason):
    """Reads every row of SOAK_ROWS back and compares with the acked ids. Call it with the
    ingest stopped (its `active` lock held), so the acked set cannot move meanwhile."""
    acked, acked_count, sent = ingest.snapshot()
    counts = bytearray(sent)
    unknown = 0
    began = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=REQUEST_TIMEOUT_S * 5)
    try:
        conn.request("POST", "/query-stream", json.dumps({"sql": f"SELECT ID FROM {STREAM};", "properties": {}}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            stats.fail("verify.read", f"status {resp.status}: {resp.read()[:200]!r}")
            return None
        resp.readline()  # the header
        rows = 0
        for line in resp:
            line = line.strip()
            if not line:
                continue
            rows += 1
            row_id = int(line[1:-1])
            if 0 <= row_id < sent:
                if counts[row_id] < 255:
                    counts[row_id] += 1
            else:
                unknown += 1
    finally:
        conn.close()
    missing = duplicates = found_unacked = 0
    first_missing = []
    for i in range(sent):
        c = counts[i]
        if acked[i] and c == 0:
            missing += 1
            if len(first_missing) < 10:
                first_missing.append(i)
        if c > 1:
            duplicates += c - 1
        if c and not acked[i]:
            found_unacked += 1
    result = {
        "reason": reason, "epoch": srv.epoch, "rows_sent": sent, "rows_acked": acked_count,
        "rows_read": rows, "acked_found": acked_count - missing, "missing": missing,
        "first_missing": first_missing, "duplicates": duplicates, "found_unacked": found_unacked,
        "unknown_ids": unknown, "read_seconds": round(time.monotonic() - began, 2),
    }
    stats.check("verify.no_missing", missing == 0, f"{reason}: {missing} acked rows missing, first {first_missing}")
    stats.check("verify.no_duplicates", duplicates == 0, f"{reason}: {duplicates} duplicate rows")
    stats.check("verify.no_unknown_ids", unknown == 0, f"{reason}: {unknown} rows with ids never sent")
    log(f"verify ({reason}): acked {acked_count}, found {acked_count - missing}, missing {missing}, "
        f"duplicates {duplicates}, found unacked {found_unacked}, read {rows} rows in {result['read_seconds']} s")
    return result


ANSI_ESCAPE = re.compile(rb"\x1b\[[0-9;]*m")
# tracing's default line: timestamp, level, target.
LOG_LEVEL = re.compile(rb"^\S+\s+(ERROR|WARN)\s")


def count_log_lines(out_dir):
    counts = collections.Counter()
    for name in sorted(os.listdir(out_dir)):
        if name.startswith("server-") and name.endswith(".log"):
            with open(os.path.join(out_dir, name), "rb") as f:
                for line in f:
                    line = ANSI_ESCAPE.sub(b"", line)
                    if b"panicked" in line:
                        counts["panics"] += 1
                    level = LOG_LEVEL.match(line)
                    if level:
                        counts[level.group(1).decode().lower() + "_lines"] += 1
    return dict(counts)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", default="target/release/sluice", help="the sluice binary (default %(default)s)")
    p.add_argument("--minutes", type=float, default=60, help="how long to run (default %(default)s)")
    p.add_argument("--kill-every", type=float, default=10,
                   help="minutes between SIGKILL-and-restart cycles; 0 for none (default %(default)s)")
    p.add_argument("--ingest-rate", type=int, default=500, help="SOAK_ROWS rows/s (default %(default)s)")
    p.add_argument("--row-bytes", type=int, default=120, help="bytes per SOAK_ROWS row (default %(default)s)")
    p.add_argument("--bench-every", type=float, default=5, help="minutes between bench runs (default %(default)s)")
    p.add_argument("--bench-rate", type=int, default=20_000, help="bench --rate (default %(default)s)")
    p.add_argument("--bench-rows", type=int, default=200_000, help="bench --rows (default %(default)s)")
    p.add_argument("--bench-queries", type=int, default=4, help="bench --queries (default %(default)s)")
    p.add_argument("--sample-every", type=float, default=5, help="seconds between samples (default %(default)s)")
    p.add_argument("--out", help="output directory (default: a new one under the temp dir)")
    p.add_argument("--keep-data", action="store_true", help="keep the server's data dir")
    args = p.parse_args()
    args.binary = os.path.abspath(args.binary)
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"no sluice binary at {args.binary}; build it with cargo build --release --bin sluice")
    args.out = args.out or tempfile.mkdtemp(prefix="sluice-soak-")
    os.makedirs(args.out, exist_ok=True)
    data_parent = tempfile.mkdtemp(prefix="sluice-soak-data-")
    data_dir = os.path.join(data_parent, "data")
    log(f"outputs in {args.out}, data in {data_dir}, {args.minutes} min")

    stats, stop = Stats(), threading.Event()
    srv = Server(args.binary, data_dir, args.out)
    ingest = Ingest(srv, stats, stop, args.ingest_rate, args.row_bytes)
    bench = Bench(srv, stats, stop, args)
    sampler = Sampler(srv, stop, ingest, args.out, args.sample_every)
    verifications, kills, unexpected_exits = [], 0, 0
    began = time.monotonic()
    deadline = began + args.minutes * 60
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stats.check("server.healthy_at_start", srv.start(), "no 200 from /healthcheck")
        log(f"server pid {srv.pid} on 127.0.0.1:{srv.port}")
        for statement in (f"CREATE STREAM {STREAM} (ID BIGINT, W INT, PAD STRING) WITH (kafka_topic='soak_rows', "
                          "value_format='JSON', partitions=4);",
                          f"CREATE STREAM {STREAM}_BAD (ID BIGINT, W INT, PAD STRING) WITH "
                          "(kafka_topic='soak_rows_bad', value_format='JSON', partitions=1);"):
            status, body = ksql(srv, statement)
            if status != 200:
                raise RuntimeError(f"setup: {statement} -> {status} {body!r:.300}")
        workers = [ingest, sampler, bench, PushQueries(srv, stats, stop, ingest),
                   PullQueries(srv, stats, stop, ingest), DdlChurn(srv, stats, stop), BadInput(srv, stats, stop)]
        for w in workers:
            w.start()
        next_kill = began + args.kill_every * 60 if args.kill_every > 0 else float("inf")
        last_report = began
        while not stop.is_set() and time.monotonic() < deadline:
            time.sleep(1)
            died = srv.proc.poll() is not None and srv.alive.is_set()
            if not died and time.monotonic() < next_kill:
                if time.monotonic() - last_report >= 60:
                    last_report = time.monotonic()
                    log(f"{(last_report - began) / 60:.1f} min: acked {ingest.acked_count}, "
                        f"server {sampler.last}, failed {dict(stats.failed)}")
                continue
            if died:
                unexpected_exits += 1
                stats.fail("server.exited", f"server pid {srv.pid} exited with {srv.proc.returncode}")
            with bench.lock:
                if time.monotonic() >= deadline:
                    break
                srv.kill()
                kills += 1 if not died else 0
                with ingest.active:
                    stats.check("server.healthy_after_restart", srv.start(), "no 200 from /healthcheck")
                    log(f"restart {srv.epoch - 1}: server pid {srv.pid}, start {srv.start_seconds[-1]} s")
                    result = verify(srv, ingest, stats, f"after kill {kills}")
                    if result:
                        verifications.append(result)
            next_kill = time.monotonic() + args.kill_every * 60 if args.kill_every > 0 else float("inf")
        log("time is up: stopping the load")
        stop.set()
        bench.stop_child()
        for w in workers:
            w.join(REQUEST_TIMEOUT_S * 2)
        with ingest.active:
            result = verify(srv, ingest, stats, "end of run")
            if result:
                verifications.append(result)
            # A clean stop and start must keep everything too.
            code = srv.stop()
            stats.check("server.clean_exit", code == 0, f"SIGTERM exit status {code}")
            stats.check("server.healthy_after_restart", srv.start(), "no 200 from /healthcheck")
            result = verify(srv, ingest, stats, "after clean restart")
            if result:
                verifications.append(result)
    except Exception as e:  # noqa: BLE001 - still write the summary of what ran
        stats.fail("soak.aborted", f"{type(e).__name__}: {e}")
    finally:
        stop.set()
        bench.stop_child()
        if srv.proc is not None:
            srv.stop()
        if not args.keep_data:
            shutil.rmtree(data_parent, ignore_errors=True)

    logs = count_log_lines(args.out)
    stats.check("server.no_panics", logs.get("panics", 0) == 0, f"{logs.get('panics')} panic lines in server logs")
    last_verify = verifications[-1] if verifications else {}
    summary = {
        "minutes": round((time.monotonic() - began) / 60, 1),
        "server": {"rss_kb_max": sampler.max["rss_kb"], "fds_max": sampler.max["fds"],
                   "threads_max": sampler.max["threads"], "last": sampler.last,
                   "starts": srv.epoch, "kills": kills, "unexpected_exits": unexpected_exits,
                   "start_seconds": srv.start_seconds, "log": logs},
        "rows": {"sent": ingest.next_id, "acked": ingest.acked_count,
                 "found": last_verify.get("acked_found"),
                 "missing_max": max((v["missing"] for v in verifications), default=None),
                 "duplicates_max": max((v["duplicates"] for v in verifications), default=None),
                 "ingest_requests": ingest.requests},
        "verifications": verifications,
        "bench": {"passed": sum(1 for r in bench.runs if r["exit"] == 0),
                  "failed": sum(1 for r in bench.runs if r["exit"] != 0), "runs": bench.runs},
        "checks_passed": dict(sorted(stats.passed.items())),
        "checks_failed": dict(sorted(stats.failed.items())),
        "interrupted_by_kills": dict(sorted(stats.interrupted.items())),
        "failure_examples": dict(stats.examples),
        "samples_csv": sampler.path,
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    failed = sum(stats.failed.values())
    missing = summary["rows"]["missing_max"]
    print(f"""sluice soak: {summary['minutes']} min, {kills} kills, {srv.epoch} starts
  server  RSS max {sampler.max['rss_kb'] / 1024:.1f} MiB, last {sampler.last.get('rss_kb', 0) / 1024:.1f} MiB; fds max {sampler.max['fds']}, last {sampler.last.get('fds')}; threads max {sampler.max['threads']}, last {sampler.last.get('threads')}
  rows    sent {ingest.next_id}, acked {ingest.acked_count}, found {last_verify.get('acked_found')}, missing (worst check) {missing}, duplicates (worst) {summary['rows']['duplicates_max']}
  bench   {summary['bench']['passed']} passed, {summary['bench']['failed']} failed
  checks  {sum(stats.passed.values())} passed, {failed} failed {dict(stats.failed) or ''}
  kills interrupted {sum(stats.interrupted.values())} operations {dict(stats.interrupted) or ''}
  server log: {logs}
  outputs: {args.out}""")
    ok = failed == 0 and not missing and verifications
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
