// Unit tests of the console's pure parts, imported straight from the embedded assets:
// the Prometheus counter parser and rate arithmetic that a `/metrics` source will use,
// the rate formatting, and how the editor tells queries from statements.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parseCounters, MetricsRateSource, METRIC } from '../../server/assets/console/rates.js';
import { quote } from '../../server/assets/console/api.js';
import { formatRate } from '../../server/assets/console/chart.js';
import { isQuery } from '../../server/assets/console/editor.js';
import { typeText } from '../../server/assets/console/results.js';

test('parseCounters sums a counter by label, skipping comments and other metrics', () => {
  const text = [
    `# HELP ${METRIC} Rows appended to a stream.`,
    `# TYPE ${METRIC} counter`,
    `${METRIC}{stream="CLICKS",partition="0"} 10`,
    `${METRIC}{partition="1",stream="CLICKS"} 5 1700000000000`,
    `${METRIC}{stream="we\\"ird, name"} 2`,
    `${METRIC}_created{stream="CLICKS"} 99`,
    `sluice_stream_bytes_in_total{stream="CLICKS"} 1234`,
    `${METRIC}{stream="BAD"} NaN-ish`,
    `${METRIC}{other="X"} 7`,
    '',
  ].join('\n');
  assert.deepEqual([...parseCounters(text, METRIC, 'stream')], [['CLICKS', 15], ['we"ird, name', 2]]);
});

test('MetricsRateSource turns counter increases into rows/s per watched stream', async () => {
  const readings = [
    `${METRIC}{stream="A"} 100\n${METRIC}{stream="B"} 7\n`,
    `${METRIC}{stream="A"} 300\n${METRIC}{stream="B"} 7\n`,
    // A restart resets counters: the new value is the increase, as Prometheus' rate() does.
    `${METRIC}{stream="A"} 50\n`,
  ];
  let clock = 0;
  const samples = [];
  const source = new MetricsRateSource((stream, rate) => samples.push([stream, rate]), {
    readMetrics: async () => readings.shift() ?? null,
    nowMs: () => clock,
    timer: false,
  });
  source.watch('A');
  source.watch('B');
  await source.tick(); // first reading: nothing to compare with yet
  assert.deepEqual(samples, []);
  clock = 2000;
  await source.tick();
  assert.deepEqual(samples.splice(0), [['A', 100], ['B', 0]]);
  clock = 3000;
  await source.tick();
  assert.deepEqual(samples.splice(0), [['A', 50], ['B', 0]]);
  assert.equal(source.watchMax, Infinity);
  source.stop();
});

test('formatRate keeps rates short', () => {
  assert.equal(formatRate(0), '0');
  assert.equal(formatRate(0.5), '0.5');
  assert.equal(formatRate(48), '48');
  assert.equal(formatRate(1234), '1.2k');
  assert.equal(formatRate(56_789), '57k');
  assert.equal(formatRate(1_350_000), '1.4M');
});

test('isQuery sends SELECT and PRINT to /query-stream, the rest to /ksql', () => {
  assert.equal(isQuery('SELECT * FROM s EMIT CHANGES;'), true);
  assert.equal(isQuery('  -- a comment\n/* block */ select 1 from s;'), true);
  assert.equal(isQuery("PRINT 'topic' FROM BEGINNING;"), true);
  assert.equal(isQuery('CREATE STREAM s2 AS SELECT * FROM s;'), false);
  assert.equal(isQuery('INSERT INTO s SELECT * FROM t;'), false);
  assert.equal(isQuery('SELECTED;'), false);
});

test('quote makes any name a quoted identifier', () => {
  assert.equal(quote('CLICKS'), '`CLICKS`');
  assert.equal(quote('a`b'), '`a``b`');
});

test('typeText rebuilds SQL types from DESCRIBE schemas', () => {
  assert.equal(typeText({ type: 'BIGINT' }), 'BIGINT');
  assert.equal(typeText({ type: 'ARRAY', memberSchema: { type: 'STRING' } }), 'ARRAY<STRING>');
  assert.equal(typeText({ type: 'MAP', memberSchema: { type: 'INTEGER' } }), 'MAP<STRING, INTEGER>');
  assert.equal(typeText({
    type: 'STRUCT',
    fields: [{ name: 'A', schema: { type: 'DOUBLE' } }, { name: 'B', schema: { type: 'ARRAY', memberSchema: { type: 'BOOLEAN' } } }],
  }), 'STRUCT<A DOUBLE, B ARRAY<BOOLEAN>>');
});
