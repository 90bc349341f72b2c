// A third-party ksqlDB client, unmodified: the npm package `ksqldb-client` (HTTP/2 through
// node's http2) runs statements, inserts with /inserts-stream, pull and push queries over
// /query-stream, session variables, /close-query, and reads ksqlDB's error shape.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

import { requireSluice, startServer, stopServer } from './sluice_server.mjs';

const WAIT_MS = 15_000;

let KsqldbClient;
try {
  KsqldbClient = createRequire(import.meta.url)('ksqldb-client');
} catch (err) {
  throw new Error(`ksqldb-client is missing: run \`npm ci\` in tests/console (${err.message})`);
}
requireSluice();

const temp = mkdtempSync(path.join(tmpdir(), 'sluice-ksqldb-client-'));
let server;
let client;

before(async () => {
  server = await startServer(path.join(temp, 'data'), WAIT_MS);
  const url = new URL(server.base);
  client = new KsqldbClient({ host: `http://${url.hostname}`, port: Number(url.port) });
  await client.connect();
});

after(async () => {
  await client?.disconnect();
  if (server) await stopServer(server, WAIT_MS);
  rmSync(temp, { recursive: true, force: true });
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test('statements, inserts and a pull query', async () => {
  const created = await client.executeStatement(
    "CREATE STREAM people (id BIGINT KEY, name STRING, age INT) WITH (kafka_topic='people', value_format='JSON', partitions=1);",
  );
  assert.equal(created.status, 200, JSON.stringify(created));
  assert.equal(created.data.rows[0].commandStatus.status, 'SUCCESS');
  const streams = await client.listStreams();
  assert.deepEqual(streams.map((s) => s.name), ['PEOPLE']);
  const described = await client.describeSource('PEOPLE');
  assert.deepEqual(described.fields.map((f) => [f.name, f.schema.type]),
    [['ID', 'BIGINT'], ['NAME', 'STRING'], ['AGE', 'INTEGER']]);

  // Upper-case names, and the lower-case ones producers write (matched case-insensitively).
  for (const row of [{ ID: 1, NAME: 'ann', AGE: 30 }, { id: 2, name: 'bob', age: 40 }]) {
    const inserted = await client.insertInto('PEOPLE', row);
    assert.equal(inserted.status, 200, JSON.stringify(inserted));
    assert.equal(inserted.data.rows[0].status, 'ok', JSON.stringify(inserted));
  }
  const pulled = await client.query('SELECT * FROM people;');
  assert.equal(pulled.status, 200, JSON.stringify(pulled));
  assert.deepEqual(pulled.data.metadata.columnNames, ['ID', 'NAME', 'AGE']);
  assert.deepEqual(pulled.data.metadata.columnTypes, ['BIGINT', 'STRING', 'INTEGER']);
  assert.deepEqual(pulled.data.rows, [{ ID: 1, NAME: 'ann', AGE: 30 }, { ID: 2, NAME: 'bob', AGE: 40 }]);

  const substituted = await client.query('SELECT name FROM ${S} WHERE age > ${A};', {
    sessionVariables: { S: 'people', A: 35 },
  });
  assert.deepEqual(substituted.data.rows, [{ NAME: 'bob' }], JSON.stringify(substituted));
});

test('a push query with LIMIT sees new rows and ends', async () => {
  const rows = [];
  const done = client.streamQuery('SELECT id, name FROM people EMIT CHANGES LIMIT 2;', (data) => {
    if (data.rows) rows.push(...data.rows);
  });
  // The query starts from the latest offset: insert once it runs.
  await sleep(300);
  await client.insertInto('PEOPLE', { ID: 3, NAME: 'cy', AGE: 50 });
  await client.insertInto('PEOPLE', { ID: 4, NAME: 'di', AGE: 60 });
  const ended = await done;
  assert.equal(ended.status, 200, JSON.stringify(ended));
  assert.deepEqual(rows, [{ ID: 3, NAME: 'cy' }, { ID: 4, NAME: 'di' }]);
});

test('a push query ends when the client terminates it', async () => {
  let queryId;
  const rows = [];
  const done = client.streamQuery(
    'SELECT * FROM people EMIT CHANGES;',
    (data) => {
      queryId ??= data.metadata?.queryId;
      if (data.rows) rows.push(...data.rows);
    },
    { properties: { 'auto.offset.reset': 'earliest' } },
  );
  const deadline = Date.now() + WAIT_MS;
  while (!queryId && Date.now() < deadline) await sleep(20);
  assert.ok(queryId, 'the header carried a query id');
  const terminated = await client.terminatePushQuery(queryId);
  assert.equal(terminated.error, undefined, JSON.stringify(terminated));
  const ended = await done;
  assert.equal(ended.status, 200, JSON.stringify(ended));
});

test('errors come back in ksqlDB\'s shape', async () => {
  const missing = await client.query('SELECT * FROM nope;');
  assert.equal(missing.status, 400, JSON.stringify(missing));
  assert.equal(missing.error['@type'], 'statement_error');
  assert.equal(missing.error.error_code, 40001);
  assert.match(missing.error.message, /NOPE does not exist/);
  const bad = await client.executeStatement('CREATE STREAM;');
  assert.equal(bad.status, 400, JSON.stringify(bad));
  assert.equal(bad.error.error_code, 40001, JSON.stringify(bad));
});
