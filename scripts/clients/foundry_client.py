"""Palantir's Foundry Python SDK (`foundry-platform-sdk`, unmodified) against Sluice.

Usage: foundry_client.py HOST:PORT TOKEN BASIC_USER:PASSWORD

Creates a stream through ksqlDB's /ksql, writes rows through /inserts-stream, then calls
the query functions of scripts/clients/foundry_functions.json with the SDK's
`functions.Query.streaming_execute` (a pull function's single data event with typed
parameters, Conjure errors (QueryNotFound, QueryRuntimeError) and a wrong token) and
`functions.Query.execute` (the whole result as one value), `execute_async` with
`functions.Execution.get_result`, `streaming_execute_events`, and the functions' metadata
(`Query.get`, `get_by_rid`, `get_by_rid_batch`). Exits non-zero on the first mismatch.
"""

import base64
import json
import sys
import urllib.request

import foundry_sdk
from foundry_sdk import Config, FoundryClient, UserTokenAuth


def ksqldb(base, basic, path, body):
    request = urllib.request.Request(
        f"{base}{path}",
        data=body.encode(),
        method="POST",
        headers={"Authorization": "Basic " + base64.b64encode(basic.encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.read().decode()


def events(client, name, **parameters):
    with client.functions.Query.streaming_execute(name, parameters=parameters, preview=True) as stream:
        return [event.data for event in stream]


def main(hostport, token, basic):
    base = f"http://{hostport}"
    ksqldb(
        base,
        basic,
        "/ksql",
        json.dumps(
            {
                "ksql": "CREATE STREAM orders (id STRING KEY, product STRING, price DOUBLE) "
                "WITH (kafka_topic='orders', value_format='JSON', partitions=2);",
                "streamsProperties": {},
            }
        ),
    )
    rows = [{"ID": f"o{i}", "PRODUCT": f"SKU-{i:03}", "PRICE": 10.0 * i} for i in range(1, 6)]
    acks = ksqldb(
        base,
        basic,
        "/inserts-stream",
        json.dumps({"target": "ORDERS"}) + "\n" + "".join(json.dumps(r) + "\n" for r in rows),
    )
    assert acks.count('"ok"') == len(rows), acks

    client = FoundryClient(auth=UserTokenAuth(token=token), hostname=hostport, config=Config(scheme="http"))

    got = events(client, "ordersAbove", minPrice=25.0)
    assert len(got) == 1 and got[0].type == "data", got
    products = sorted(row["PRODUCT"] for row in got[0].value)
    assert products == ["SKU-003", "SKU-004", "SKU-005"], products

    got = events(client, "ordersAbove", minPrice=-1.0)
    assert len(got[0].value) == 5, got

    # The non-streaming call: the whole result as the response's value.
    result = client.functions.Query.execute("ordersAbove", parameters={"minPrice": 25.0})
    products = sorted(row["PRODUCT"] for row in result.value)
    assert products == ["SKU-003", "SKU-004", "SKU-005"], result
    try:
        client.functions.Query.execute("noSuchFunction", parameters={})
        raise AssertionError("an unknown function must raise")
    except foundry_sdk.NotFoundError as e:
        assert "QueryNotFound" in str(e), e

    # Async: completed at once (the server waits a little), or submitted and polled.
    started = client.functions.Query.execute_async("ordersAbove", parameters={"minPrice": 25.0})
    if started.type == "submitted":
        polled = client.functions.Execution.get_result(started.execution_id, timeout=30)
        assert polled.type == "succeeded", polled
        value = polled.value
    else:
        assert started.type == "completed", started
        value = started.value
    assert sorted(row["PRODUCT"] for row in value) == ["SKU-003", "SKU-004", "SKU-005"], value

    with client.functions.Query.streaming_execute_events(
        "ordersAbove", parameters={"minPrice": 45.0}, preview=True
    ) as stream:
        got = [event.data for event in stream]
    assert [row["PRODUCT"] for row in got[0].value] == ["SKU-005"], got

    # Metadata: typed parameters, the output planned from the SQL, the rid.
    query = client.functions.Query.get("ordersAbove", preview=True)
    assert query.api_name == "ordersAbove" and query.version == "1.0.0", query
    assert query.parameters["minPrice"].data_type.type == "double", query
    assert query.output.type == "array", query
    fields = {f.name: f.field_type.type for f in query.output.sub_type.fields}
    assert fields == {"PRODUCT": "string", "PRICE": "double"}, fields
    by_rid = client.functions.Query.get_by_rid(rid=query.rid, preview=True)
    assert by_rid == query, by_rid
    batch = client.functions.Query.get_by_rid_batch([{"rid": query.rid}], preview=True)
    assert [q.api_name for q in batch.data] == ["ordersAbove"], batch

    # A function whose query the engine refuses: Foundry's QueryRuntimeError.
    try:
        events(client, "broken")
        raise AssertionError("a broken function must raise")
    except foundry_sdk.BadRequestError as e:
        assert "QueryRuntimeError" in str(e), e

    try:
        events(client, "noSuchFunction")
        raise AssertionError("an unknown function must raise")
    except foundry_sdk.NotFoundError as e:
        assert "QueryNotFound" in str(e), e

    bad = FoundryClient(auth=UserTokenAuth(token="wrong"), hostname=hostport, config=Config(scheme="http"))
    try:
        events(bad, "ordersAbove", minPrice=1.0)
        raise AssertionError("a wrong token must raise")
    except foundry_sdk.UnauthorizedError:
        pass
    print(f"foundry-platform-sdk: ok ({base})")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3])
