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
