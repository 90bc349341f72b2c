"""DeltaStream's real Python client (`deltastream-connector`, unmodified) against Sluice.

Usage: deltastream_client.py BASE_URL TOKEN BASIC_USER:PASSWORD

Runs DDL, a USE whose context the client carries into later requests, a query whose rows
were written through ksqlDB's /inserts-stream and span several result pages, a function
source uploaded with exec_with_files and fetched back through the generated API's
download_resource (GET /v2/download/...), a SQL error and a bad token, asserting what the
client returns. Exits non-zero on the first mismatch.

Quirks of the client worked around here, never in the server (other-faces.md §A(d)):
APIConnection.from_dsn drops the port, so the connection is built directly; ResultsetRows
drops None cells, so the rows here have no NULLs.
"""

import asyncio
import base64
import json
import os
import sys
import tempfile
import urllib.request
from decimal import Decimal

from deltastream.api.conn import APIConnection
from deltastream.api.error import AuthenticationError, SQLError, SqlState

ROWS = 2345  # more than two result pages of 1,000
ORGANIZATION_ID = "5a1ce000-0000-4000-8000-000000000001"  # Sluice's one organization


def connect(base, token):
    async def token_provider():
        return token

    return APIConnection(
        server_url=f"{base}/v2",
        token_provider=token_provider,
        session_id=None,
        timezone="UTC",
        organization_id=None,
        role_name=None,
        database_name=None,
        schema_name=None,
        store_name=None,
    )


def insert_through_ksqldb(base, basic, stream, rows):
    body = json.dumps({"target": stream}) + "\n" + "".join(json.dumps(r) + "\n" for r in rows)
    request = urllib.request.Request(
        f"{base}/inserts-stream",
        data=body.encode(),
        method="POST",
        headers={"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        acks = [json.loads(line) for line in response.read().decode().splitlines() if line]
    assert len(acks) == len(rows) and all(a["status"] == "ok" for a in acks), acks[:3]


async def main(base, token, basic):
    conn = connect(base, token)
    version = await conn.version()
    assert set(version) == {"major", "minor", "patch"}, version

    await conn.exec(
        "CREATE STREAM clicks (userid VARCHAR KEY, pageid VARCHAR, viewtime BIGINT) "
        "WITH ('topic'='clicks', 'value.format'='json', 'topic.partitions'=3);"
    )
    rows = await conn.query("LIST STREAMS;")
    listed = [row async for row in rows]
    assert ["CLICKS", "stream", "clicks"] in listed, listed

    # The server echoes the context; the client keeps it for its next requests.
    await conn.exec("USE DATABASE demo;")
    assert conn.rsctx.database_name == "demo", conn.rsctx

    insert_through_ksqldb(
        base,
        basic,
        "CLICKS",
        [{"USERID": f"u{i % 5}", "PAGEID": f"p{i}", "VIEWTIME": i} for i in range(ROWS)],
    )
    rows = await conn.query("SELECT pageid, viewtime FROM clicks;")
    names = [c.name for c in rows.columns()]
    assert names == ["PAGEID", "VIEWTIME"], names
    got = [row async for row in rows]
    assert len(got) == ROWS, len(got)
    # BIGINT cells come back as Decimal, VARCHAR as str (the client's own casting).
    assert sorted(int(r[1]) for r in got) == list(range(ROWS))
    assert all(isinstance(r[1], Decimal) and r[0] == f"p{int(r[1])}" for r in got)

    # Upload: the client's own multipart attachments. Download: its generated API's
    # download call. The plain download_resource raises "Unsupported content type:
    # application/octet-stream" on any server that answers as DeltaStream's spec says (the
    # generated client only decodes JSON and text), so its _without_preload_content form,
    # which hands back the raw response, is the call that works.
    jar = b"PK\x03\x04 jar bytes from deltastream-connector \xff\x00"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "udfs.jar")
        with open(path, "wb") as f:
            f.write(jar)
        await conn.exec_with_files(
            "CREATE FUNCTION_SOURCE \"udfs\" WITH ('file' = 'udfs.jar');", [path]
        )
    response = conn.statement_handler.api.download_resource_without_preload_content(
        "function_source", ORGANIZATION_ID, "udfs"
    )
    assert response.status == 200, response.status
    downloaded = response.read()
    assert downloaded == jar, downloaded

    try:
        await conn.exec("SELEC 1;")
        raise AssertionError("a syntax error must raise")
    except SQLError as e:
        assert e.code == SqlState.SQL_STATE_42601, e.code
        assert e.statement_id is not None

    try:
        await connect(base, "not-a-token").version()
        raise AssertionError("a bad token must raise")
    except AuthenticationError:
        pass
    print(f"deltastream-connector: ok ({base})")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3]))
