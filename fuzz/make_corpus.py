#!/usr/bin/env python3
"""Writes the seed corpus under fuzz/corpus/<target>/ (checked in; rerun only to refresh it).

SQL seeds come from ksqlDB's QTT and RQTT cases (the conformance cases, default
../../shared/conformance from this directory): a greedy pick of statements, expressions and
types that together use every distinct word and symbol the cases use, so the seeds are few
but cover the grammar. Row and request-body seeds are the shapes the endpoints' tests use.

    fuzz/make_corpus.py [CONFORMANCE_DIR]
"""
import glob
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "shared", "conformance")
TOKEN = re.compile(r"'(?:[^']|'')*'|`[^`]*`|\"[^\"]*\"|[A-Za-z_][A-Za-z0-9_@]*|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|->|=>|:=|\|\||<>|!=|<=|>=|\S")


def features(text):
    """Distinct words (upper-cased) and symbols; literals and quoted names by kind only."""
    out = set()
    for tok in TOKEN.findall(text):
        if tok[0] in "'`\"":
            out.add(tok[0])
        elif tok[0].isdigit():
            out.add("num:" + ("e" if "e" in tok.lower() else "." if "." in tok else "i"))
        else:
            out.add(tok.upper())
    return out


def greedy(items, cap):
    """Items that together cover every feature, most new features first, shortest on ties."""
    remaining = {t: features(t) for t in items}
    covered, chosen = set(), []
    while remaining and len(chosen) < cap:
        best = max(remaining, key=lambda t: (len(remaining[t] - covered), -len(t)))
        if not remaining[best] - covered:
            break
        covered |= remaining.pop(best)
        chosen.append(best)
    return chosen


def split_top(text, sep=","):
    """Splits on `sep` outside brackets and quotes."""
    parts, depth, quote, cur = [], 0, None, ""
    for c in text:
        if quote:
            quote = None if c == quote else quote
        elif c in "'`\"":
            quote = c
        elif c in "([<":
            depth += 1
        elif c in ")]>":
            depth -= 1
        elif c == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
            continue
        cur += c
    parts.append(cur.strip())
    return [p for p in parts if p]


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for seed in seeds:
        data = seed if isinstance(seed, bytes) else seed.encode()
        name = hashlib.sha1(data).hexdigest()[:16]
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    print(f"{target}: {len(seeds)} seeds")


statements = set()
for path in sorted(glob.glob(os.path.join(CASES, "*", "cases", "*.json"))):
    with open(path) as f:
        statements.update(json.load(f).get("statements", []))
statements = sorted(statements)

expressions, types = set(), set()
for s in statements:
    m = re.search(r"\bSELECT\s+(.*?)\s+FROM\b", s, re.I | re.S)
    if m:
        for item in split_top(m.group(1)):
            item = re.sub(r"\s+AS\s+\S+$", "", item, flags=re.I)
            if item != "*":
                expressions.add(item)
    m = re.search(r"\bWHERE\s+(.*?)(?:\s+(?:GROUP|PARTITION|HAVING|EMIT|LIMIT)\b|;|$)", s, re.I | re.S)
    if m:
        expressions.add(m.group(1))
    m = re.match(r"\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:SOURCE\s+)?(?:STREAM|TABLE)\s+\S+\s*\((.*)\)\s*WITH", s, re.I | re.S)
    if m:
        for element in split_top(m.group(1)):
            words = element.split(None, 1)
            if len(words) == 2:
                ty = re.sub(r"\s+(PRIMARY\s+KEY|KEY|HEADERS|HEADER\s*\(.*\))$", "", words[1], flags=re.I)
                types.add(ty.strip())

write("sql_parse", greedy(statements, 300) + [
    "SELECT * FROM s; SHOW STREAMS;; -- trailing comment",
    "EXPLAIN EXPLAIN SELECT * FROM s;",
    "SELECT a FROM s WHERE b IN (1, 2, 3) AND NOT c IS NULL EMIT CHANGES LIMIT 5;",
])
write("sql_expression", greedy(sorted(expressions), 200))
write("sql_type", greedy(sorted(types), 60) + ["STRUCT<`a``b` INT, c ARRAY<MAP<STRING, DECIMAL(4, 2)>>>", "INT ARRAY ARRAY", "VARCHAR(STRING)"])
write("sql_variables", [
    "src\0riders\0n\00010\0SELECT * FROM ${src} WHERE x = ${n};",
    "who\0o'neil\0SELECT 'hi ${who} ${unknown}' FROM s;",
    "x\0'lit'\0DEFINE y = '${x}'; SELECT ${x} FROM s;",
    "bad\0a b\0SELECT * FROM\n  ${bad};",
    "-- ${x}\nSELECT 1 FROM t;",
])

rows = [
    b'{"target":"pageviews"}\n{"userid":"u1","pageid":"p1","viewtime":1}\n{"userid":"u2","pageid":"p2","viewtime":2}\n',
    b'{"K":"a","V":1}\r\n\r\n{"K":"b","V":2}\n  \n{"K":"c"}',
    b'{"ID":1,"NAME":"x","TAGS":["a","b"],"LOC":{"LAT":1.5,"LON":-2}}\n{"ID":2}\n',
]
write("line_splitter", [bytes([0, 3, 40, 128, 200]) + rows[0], bytes([24, 2, 10, 250]) + rows[1], bytes([0, 0]) + rows[2], bytes([8, 1, 127]) + rows[1]])

bodies = [
    (0, b'{"ksql":"CREATE STREAM pageviews (userid STRING KEY, pageid STRING) WITH (kafka_topic=\'pageviews\', value_format=\'JSON\', partitions=4);","streamsProperties":{"auto.offset.reset":"earliest"}}'),
    (0, b'{"ksql":"SHOW STREAMS;","sessionVariables":{"x":"riders","n":3},"commandSequenceNumber":7}'),
    (1, b'{"sql":"SELECT userid FROM pageviews EMIT CHANGES LIMIT 10;","properties":{"auto.offset.reset":"earliest"}}'),
    (2, b'{"queryId":"transient_PAGEVIEWS_123"}'),
    (3, b'{"target":"pageviews"}'),
    (3, b'{"target":"`pageViews`","properties":{}}'),
    (4, b'{"records":[{"key":"dTE=","value":"eyJBIjoxfQ==","partition":1,"timestamp":1609459200000,"headers":[{"key":"h","value":"AQI="},{"key":"n","value":null}]},{"value":"dg=="}]}'),
    (5, b'{"records":[{"key":"k","value":{ "A" : 1.50, "B":[1, 2] }},{"value":null,"timestamp":5}]}'),
    (6, b'{"name":"raw","partitions":2}'),
    (7, b'offset=0&limit=100'),
    (8, b'application/vnd.ksqlapi.delimited.v1, application/json;q=0.9'),
]
write("request_bodies", [bytes([sel]) + body for sel, body in bodies])

# Rows, keys and log records (record_checks.rs): a selector byte picks the schema.
row_lines = [
    (0, b'{"A":true,"B":1,"C":9007199254740993,"D":1.5,"E":"x"}'),
    (0, b'{"E":"caf\\u00e9","A":false,"D":-0.0,"B":-2147483648}'),
    (0, b' { "b" : 1 , "`E`" : null } '),
    (1, b'{"A":1.5,"B":"2020-01-01T00:00:00.000","C":[1,null,3],"D":{"k":1e3},"E":{"X":1,"y":"z"},"`e`":"lo","F":"AQI=","G":"2020-01-01","H":"10:00:00"}'),
    (1, b'{"A":12.345,"B":1609459200000,"C":[],"D":{},"E":null}'),
    (2, b'{"K":"key","A":1,"B":"v"}'),
    (2, b'{"A":1,"B":"v","K":"last"}'),
    (3, b'{"A":0.1,"K":42,"B":7}'),
    (4, b'{"K":-1,"A":"s"}'),
    (5, b'{"K":2.5,"A":true}'),
    (6, b'{"K":true,"A":3,"B":"b"}'),
    (7, b'{"K":"j","A":1E2}'),
    (8, b'{"K1":1,"K2":"two","A":"a"}'),
    (9, b'{"K":{"X":1},"A":["p","q"]}'),
]
write("row_decoder", [bytes([sel]) + line for sel, line in row_lines])

key_bytes = [
    (0, b"user-1"), (1, bytes([0, 0, 0, 42])), (2, bytes([0xff] * 8)), (3, bytes([0x3f, 0xf8, 0, 0, 0, 0, 0, 0])),
    (4, b'"k"'), (5, b"12"), (6, b"-9007199254740993"), (7, b"1.5e3"), (8, b"true"), (9, b"123.4567"),
    (10, b"1609459200000"), (11, b'"AQI="'), (12, b"[1,2,null]"), (13, b'{"a":1}'),
    (14, b'{"A":1,"b":"x"}'), (15, b'{"K0":1,"K1":"s"}'), (16, b'{"K0":0.5,"K1":{"X":true},"K2":18000}'), (17, b"ignored"),
]
write("key_formats", [bytes([sel]) + key for sel, key in key_bytes])


def frame(offset, key, value, ts=1700000000000, headers=()):
    import struct, zlib
    def nullable(b):
        return struct.pack("<i", -1) if b is None else struct.pack("<i", len(b)) + b
    body = struct.pack("<Qq", offset, ts) + nullable(key) + nullable(value) + struct.pack("<I", len(headers))
    for k, v in headers:
        body += struct.pack("<I", len(k)) + k + nullable(v)
    return struct.pack("<II", len(body) + 4, zlib.crc32(body)) + body


def recipe(base, trusted, records, flips=(), cut=0xFFFF):
    out = bytes([base, trusted, len(records)])
    for shape, key, value, headers in records:
        out += bytes([shape])
        if shape & 1:
            out += bytes([len(key)]) + key
        if shape & 2:
            out += bytes([len(value)]) + value
        for name, hv in headers:
            out += bytes([len(name)]) + name + bytes([len(hv)]) + hv
    out += bytes([len(flips)])
    for at, xor in flips:
        out += at.to_bytes(2, "little") + bytes([xor])
    return out + cut.to_bytes(2, "little")


plain = [(3, b"k%d" % i, b'{"V":%d}' % i, []) for i in range(6)]
write("log_reader", [
    frame(7, b"key", b'{"A":1}', headers=[(b"h", b"v"), (b"n", None)]),
    frame(0, None, None),
    recipe(0, 255, plain),
    recipe(1, 255, plain, flips=[(60, 0x10)]),
    recipe(2, 0, plain, cut=100),
    recipe(3, 128, plain, flips=[(3, 0x01)], cut=150),
    recipe(0, 255, [(7, b"\0\0\0\1", b"x" * 40, [(b"trace", b"abc")])] * 4, flips=[(2, 0x80)]),
])
