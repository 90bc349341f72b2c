// The PROTOBUF result format (`Accept: application/vnd.ksql.v1+protobuf`) read by a real
// protobuf library: protobufjs parses the `.proto` text the header carries, as a client
// without generated code does, and decodes every row's `protobufBytes` with it. Covers
// /query-stream and /query, a pull over a stream and a push query, every column type.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { requireSluice, startServer, stopServer } from './sluice_server.mjs';

const WAIT_MS = 15_000;
const PROTOBUF = 'application/vnd.ksql.v1+protobuf';

let protobuf;
try {
  protobuf = (await import('protobufjs')).default;
} catch (err) {
  throw new Error(`protobufjs is missing: run \`npm ci\` in tests/console (${err.message})`);
}
requireSluice();

// The well-known messages the schema imports, as their .proto files define them; a client
// compiles these files next to the schema.
const WELL_KNOWN = `
syntax = "proto3";
package google.protobuf;
message Timestamp { int64 seconds = 1; int32 nanos = 2; }
`;
const CONFLUENT_DECIMAL = `
syntax = "proto3";
package confluent.type;
message Decimal { bytes value = 1; uint32 precision = 2; int32 scale = 3; }
`;
const GOOGLE_DATE = `
syntax = "proto3";
package google.type;
message Date { int32 year = 1; int32 month = 2; int32 day = 3; }
message TimeOfDay { int32 hours = 1; int32 minutes = 2; int32 seconds = 3; int32 nanos = 4; }
`;

const temp = mkdtempSync(path.join(tmpdir(), 'sluice-protobuf-'));
let server;

before(async () => {
  server = await startServer(path.join(temp, 'data'), WAIT_MS);
  await ksql(`CREATE STREAM P (ID STRING KEY, N INT, B BIGINT, D DOUBLE, F BOOLEAN, S STRING,
      BS BYTES, T TIMESTAMP, DY DATE, TM TIME, DE DECIMAL(5, 2), A ARRAY<INT>,
      M MAP<STRING, STRUCT<X INT, Y STRING>>, ST STRUCT<Q STRING>)
    WITH (kafka_topic='p', value_format='JSON', partitions=1);`);
  const rows = [
    {
      ID: 'a', N: -5, B: '9007199254740993', D: 1.5, F: true, S: 'é"x', BS: 'AQL/',
      T: '2023-11-14T22:13:20.123', DY: '2024-02-29', TM: '01:02:03.004', DE: 123.45,
      A: [1, 0, 3], M: { k: { X: 1, Y: 'y' } }, ST: { Q: 'q' },
    },
    // Nulls and zeros: proto3 leaves both out, so both decode as defaults.
    { ID: 'b', N: 0, S: null },
  ];
  const body = [JSON.stringify({ target: 'P' }), ...rows.map((r) => JSON.stringify(r).replace('"9007199254740993"', '9007199254740993'))].join('\n') + '\n';
  const response = await fetch(`${server.base}/inserts-stream`, { method: 'POST', body });
  assert.equal(response.status, 200, await response.clone().text());
  const acks = (await response.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(acks.map((a) => a.status), ['ok', 'ok']);
});

after(async () => {
  if (server) await stopServer(server, WAIT_MS);
  rmSync(temp, { recursive: true, force: true });
});

async function ksql(statements) {
  const response = await fetch(`${server.base}/ksql`, { method: 'POST', body: JSON.stringify({ ksql: statements }) });
  assert.equal(response.status, 200, await response.clone().text());
  return response.json();
}

/** Posts `body` to `endpoint` asking for protobuf rows; the reply's JSON array. */
async function protobufQuery(endpoint, body) {
  const response = await fetch(`${server.base}${endpoint}`, {
    method: 'POST',
    headers: { accept: PROTOBUF },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await response.text();
  assert.equal(response.status, 200, text);
  assert.equal(response.headers.get('content-type'), PROTOBUF);
  return JSON.parse(text);
}

/** The root message type of a header's `protoSchema`, compiled by protobufjs. */
function messageType(protoSchema) {
  const root = new protobuf.Root();
  for (const file of [WELL_KNOWN, CONFLUENT_DECIMAL, GOOGLE_DATE]) protobuf.parse(file, root, { keepCase: true });
  protobuf.parse(protoSchema, root, { keepCase: true });
  root.resolveAll();
  return root.lookupType('ConnectDefault1');
}

function decodeRows(elements) {
  const type = messageType(elements[0].header.protoSchema);
  return elements
    .filter((e) => e.row)
    .map((e) => type.toObject(type.decode(Buffer.from(e.row.protobufBytes, 'base64')), { longs: String, bytes: Array, defaults: true }));
}

function checkRows(rows) {
  const byId = Object.fromEntries(rows.map((r) => [r.ID, r]));
  const a = byId.a;
  assert.equal(a.N, -5);
  assert.equal(a.B, '9007199254740993');
  assert.equal(a.D, 1.5);
  assert.equal(a.F, true);
  assert.equal(a.S, 'é"x');
  assert.deepEqual(a.BS, [0x01, 0x02, 0xff]);
  assert.deepEqual(a.T, { seconds: '1700000000', nanos: 123_000_000 });
  assert.deepEqual(a.DY, { year: 2024, month: 2, day: 29 });
  assert.deepEqual(a.TM, { hours: 1, minutes: 2, seconds: 3, nanos: 4_000_000 });
  // 123.45 is the unscaled 12345 (0x3039) at scale 2, five digits.
  assert.deepEqual(a.DE, { value: [0x30, 0x39], precision: 5, scale: 2 });
  assert.deepEqual(a.A, [1, 0, 3]);
  assert.deepEqual(a.M, [{ key: 'k', value: { X: 1, Y: 'y' } }]);
  assert.deepEqual(a.ST, { Q: 'q' });
  const b = byId.b;
  assert.equal(b.N, 0);
  assert.equal(b.S, '');
  assert.equal(b.T, null);
  assert.deepEqual(b.A, []);
}

test('a pull over a stream on /query-stream: schema in the header, every row decodes', async () => {
  const elements = await protobufQuery('/query-stream', { sql: 'SELECT * FROM P;', properties: {} });
  const header = elements[0].header;
  assert.match(header.queryId, /\S/);
  assert.match(header.schema, /^`ID` STRING, `N` INTEGER/);
  assert.match(header.protoSchema, /^syntax = "proto3";\n\nimport "google\/protobuf\/timestamp.proto";\n/);
  assert.match(header.protoSchema, /\n {2}repeated ConnectDefault2Entry M = 13;\n/);
  const rows = decodeRows(elements);
  assert.equal(rows.length, 2);
  checkRows(rows);
  // ksqlDB runs a pull over a stream as a push query that ends, so it ends like one.
  assert.deepEqual(elements.at(-1), { finalMessage: 'Query Completed' });
});

test('a push query on the old /query endpoint in the protobuf format', async () => {
  const elements = await protobufQuery('/query', {
    ksql: 'SELECT * FROM P EMIT CHANGES LIMIT 2;',
    streamsProperties: { 'auto.offset.reset': 'earliest' },
  });
  checkRows(decodeRows(elements));
  assert.deepEqual(elements.at(-1), { finalMessage: 'Limit Reached' });
});

test('a result the format cannot carry is refused before streaming', async () => {
  const response = await fetch(`${server.base}/query-stream`, {
    method: 'POST',
    headers: { accept: PROTOBUF },
    body: JSON.stringify({ sql: 'SELECT ARRAY[ARRAY[1]] AS X FROM P;' }),
  });
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.equal(body['@type'], 'generic_error');
  assert.match(body.message, /PROTOBUF .* ARRAY of ARRAY/);
});
