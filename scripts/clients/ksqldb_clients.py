"""Third-party ksqlDB clients from PyPI, unmodified, against a running Sluice (no auth).

    python ksqldb_clients.py http://127.0.0.1:PORT

- `ksqldb` (KSQLdbClient): /ksql statements, /inserts-stream and /query-stream over
  HTTP/2 (httpx), a pull query and a push query with LIMIT;
- `ksql-python-ng` (KSQLAPI): /info, /ksql helpers (SHOW, CREATE STREAM, DESCRIBE), the
  old /query endpoint over HTTP/1.1 (ksqlDB's JSON array of header and rows) and its
  HTTP/2 /query-stream mode, and ksqlDB's error shape as its KSQLError.

Exits non-zero on the first wrong answer.
"""

import asyncio
import json
import sys

from ksql import KSQLAPI
from ksql.errors import KSQLError
from ksqldb import KSQLdbClient


def check(cond, what):
    if not cond:
        raise SystemExit(f"ksqldb_clients.py: {what}")
    print(f"ok  {what}")


def ksqldb_package(url):
    client = KSQLdbClient(url)
    props = client.get_properties()
    check(any(p["name"] == "ksql.streams.auto.offset.reset" for p in props), "ksqldb: SHOW PROPERTIES")
    created = client.ksql(
        "CREATE STREAM readings (sensor STRING KEY, reading DOUBLE, area STRING) "
        "WITH (kafka_topic='readings', value_format='JSON', partitions=2);"
    )
    check(created[0]["commandStatus"]["status"] == "SUCCESS", "ksqldb: CREATE STREAM")
    acks = client.inserts_stream(
        "READINGS",
        [
            {"SENSOR": "s1", "READING": 1.5, "AREA": "north"},
            {"sensor": "s2", "reading": 2.5, "area": "south"},
            {"Sensor": "s1", "AREA": "north"},
        ],
    )
    check(acks == [{"status": "ok", "seq": i} for i in range(3)], f"ksqldb: inserts acked {acks}")
    pulled = client.query_sync("SELECT sensor, reading FROM readings WHERE area = 'north';")
    header, rows = pulled[0], sorted(pulled[1:], key=json.dumps)
    check(header["columnNames"] == ["SENSOR", "READING"], f"ksqldb: pull header {header}")
    check(rows == [["s1", 1.5], ["s1", None]], f"ksqldb: pull rows {rows}")

    async def push():
        got = []
        async for item in client.query_async(
            "SELECT * FROM readings EMIT CHANGES LIMIT 2;",
            stream_properties={"auto.offset.reset": "earliest"},
        ):
            got.append(item)
        return got

    pushed = asyncio.run(push())
    check(pushed[0]["columnNames"] == ["SENSOR", "READING", "AREA"], f"ksqldb: push header {pushed[0]}")
    check(len(pushed) == 3 and all(isinstance(r, list) for r in pushed[1:]), f"ksqldb: push rows {pushed}")


def ksql_python_ng(url):
    api = KSQLAPI(url)  # asks /info for the version first
    streams = api.ksql("show streams")
    names = [s["name"] for s in streams[0]["streams"]]
    check("READINGS" in names, f"ksql-python-ng: SHOW STREAMS {names}")
    check(
        api.create_stream(
            table_name="readings_copy",
            columns_type=["sensor varchar", "reading double"],
            topic="readings",
            value_format="JSON",
        ),
        "ksql-python-ng: create_stream over an existing topic",
    )
    described = api.ksql("describe READINGS_COPY")[0]["sourceDescription"]
    check([f["name"] for f in described["fields"]] == ["SENSOR", "READING"], "ksql-python-ng: DESCRIBE")
    chunks = list(
        api.query(
            "select * from READINGS emit changes limit 1",
            stream_properties={"ksql.streams.auto.offset.reset": "earliest"},
        )
    )
    document = json.loads("".join(chunks))
    check("header" in document[0] and "row" in document[1], f"ksql-python-ng: /query {document}")
    check(document[-1].get("finalMessage") == "Limit Reached", "ksql-python-ng: /query ends at LIMIT")
    lines = "".join(api.query("select * from READINGS", use_http2=True)).splitlines()
    check(json.loads(lines[0])["columnNames"] == ["SENSOR", "READING", "AREA"], "ksql-python-ng: HTTP/2 header")
    check(len(lines) == 4, f"ksql-python-ng: HTTP/2 pull rows {lines}")
    try:
        api.ksql("DESCRIBE nothing_here")
        check(False, "ksql-python-ng: an unknown source is an error")
    except KSQLError as e:
        check(e.error_code == 40001 and "NOTHING_HERE" in e.msg, f"ksql-python-ng: KSQLError {e.error_code}")


if __name__ == "__main__":
    ksqldb_package(sys.argv[1])
    ksql_python_ng(sys.argv[1])
