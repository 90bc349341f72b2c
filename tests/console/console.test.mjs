// End-to-end test of the web console: the built `sluice` binary, serving the console to
// headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core), used as a
// person would: typing statements, clicking, watching rows and rates arrive.
//
// It builds nothing: run `cargo build --bin sluice` first (scripts/check.sh does). The
// server binds 127.0.0.1:0 over a temporary data directory, and everything it started
// (server, browser, temp dirs) is stopped and removed at the end.
//
// Screenshots of each view go to $CONSOLE_SCREENSHOT_DIR, or a temp dir when it is unset
// (`npm run screenshots` points it at docs/console/).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http2 from 'node:http2';

import { requireSluice, startServer, stopServer } from './sluice_server.mjs';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
/** Upper bound on any one wait, so a broken console fails the test instead of hanging it. */
const WAIT_MS = 15_000;
/** A stream name that looks like markup and needs quoting in SQL. */
const ODD_NAME = 'odd <b>name</b>';
/** Rows the producer sends per second: enough for a visible rate, small for CI. */
const INSERT_RATE_PER_S = 50;

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (err) {
  throw new Error(`playwright-core is missing: run \`npm ci\` in tests/console (${err.message})`);
}
requireSluice();
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium`);

const temp = mkdtempSync(path.join(tmpdir(), 'sluice-console-'));
const shots = process.env.CONSOLE_SCREENSHOT_DIR
  ? path.resolve(process.env.CONSOLE_SCREENSHOT_DIR)
  : path.join(temp, 'screenshots');
mkdirSync(shots, { recursive: true });

let server; // { child, base, log }
let context;
let page;
const problems = []; // page errors, failed requests, requests off this server
let expectingBadRequests = false;

before(async () => {
  server = await startServer(path.join(temp, 'data'), WAIT_MS);
  context = await chromium.launchPersistentContext(path.join(temp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 800 },
    deviceScaleFactor: 1,
    timeout: WAIT_MS,
  });
  context.setDefaultTimeout(WAIT_MS);
  page = context.pages()[0] ?? await context.newPage();
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // Chromium logs every 4xx as "Failed to load resource"; the response handler judges those.
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(`console: ${msg.text()}`);
  });
  page.on('request', (req) => {
    if (!req.url().startsWith(server.base)) problems.push(`request off the server: ${req.url()}`);
  });
  page.on('response', (res) => {
    // The rate charts probe GET /metrics once, which today's server answers 404 to; 400s
    // are expected only while the test sends bad statements.
    const status = res.status();
    if (status === 404 && res.url() === `${server.base}/metrics`) return;
    if (status === 400 && expectingBadRequests) return;
    if (status >= 400) problems.push(`${status}: ${res.url()}`);
  });
});

after(async () => {
  await context?.close();
  if (server) await stopServer(server, WAIT_MS);
  rmSync(temp, { recursive: true, force: true });
});

test('the console loads at / with its assets and the server status', async () => {
  const response = await page.goto(`${server.base}/`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-type'], /^text\/html/);
  await page.locator('#server-status.up').waitFor();
  assert.match(await page.locator('#server-status').textContent(), /RUNNING/);
  assert.equal(await page.locator('.tabs a[aria-current="page"]').textContent(), 'Editor');
});

test('the editor creates a stream, a table and a persistent query', async () => {
  await runInEditor(`CREATE STREAM clicks (userid STRING KEY, page STRING, ms BIGINT)
  WITH (kafka_topic='clicks', value_format='JSON', partitions=2);
CREATE TABLE users (id STRING PRIMARY KEY, name STRING, age INT)
  WITH (kafka_topic='users', value_format='JSON', partitions=1);
CREATE STREAM home_clicks AS SELECT userid, ms FROM clicks WHERE page = '/' EMIT CHANGES;
CREATE STREAM \`${ODD_NAME}\` (v INT) WITH (kafka_topic='odd', value_format='JSON', partitions=1);`);
  const messages = page.locator('#editor-output .result .message');
  await messages.nth(3).waitFor();
  assert.deepEqual(await messages.allTextContents(),
    ['Stream created', 'Table created', 'Created query with ID CSAS_HOME_CLICKS_2', 'Stream created']);
  assert.equal(await page.locator('#editor-error').isHidden(), true);

  await runInEditor('SHOW STREAMS;');
  await cell('HOME_CLICKS').waitFor();
  const names = await page.locator('#editor-output tbody tr td:first-child').allTextContents();
  assert.deepEqual(names, ['CLICKS', 'HOME_CLICKS', ODD_NAME]);
  await page.screenshot({ path: path.join(shots, 'editor.png') });
});

test('a push query shows rows as they are inserted, with its rows/s chart', async () => {
  await page.fill('#sql', 'SELECT userid, page, ms FROM clicks EMIT CHANGES;');
  await page.selectOption('#offset-reset', 'latest');
  await page.click('#run');
  const live = page.locator('#editor-output .result.live');
  await page.waitForFunction(() => document.querySelector('#editor-output .result.live')?.dataset.queryId);
  const queryId = await live.getAttribute('data-query-id');
  assert.match(queryId, /^transient_CLICKS_/);
  assert.deepEqual(await live.locator('thead th').allTextContents(), ['USERID', 'PAGE', 'MS']);

  const rows = 150;
  const acks = await insertRows(server.base, 'CLICKS', rows, (i) => ({ userid: `u${i % 7}`, page: i % 3 === 0 ? '/' : `/p${i}`, ms: i }));
  assert.equal(acks, rows);
  await page.waitForFunction((n) => Number(document.querySelector('#editor-output .row-count')?.dataset.count) === n, rows);
  // Newest on top; every row arrived once, with its columns in header order.
  const shown = await live.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
  assert.equal(shown.length, rows);
  assert.deepEqual(shown.map((r) => Number(r[2])).sort((a, b) => a - b), [...Array(rows).keys()]);
  const last = shown.find((r) => r[2] === String(rows - 1));
  assert.deepEqual(last, [`u${(rows - 1) % 7}`, `/p${rows - 1}`, String(rows - 1)]);
  // The query's own chart sampled the rows while they came (~50 rows/s for 3 s).
  const peak = Number(await live.locator('canvas.rate-chart').getAttribute('data-peak'));
  assert.ok(peak > 0 && peak <= rows, `push query chart peak ${peak}`);
  await page.screenshot({ path: path.join(shots, 'push-query.png') });
});

test('streams & tables: schemas, and a live rows/s chart per stream', async () => {
  await page.click('.tabs a[data-view="sources"]');
  const list = page.locator('#sources-table tbody tr');
  await page.locator('#sources-table tr[data-source="USERS"]').waitFor();
  assert.deepEqual(await list.locator('td:first-child').allTextContents(), ['CLICKS', 'HOME_CLICKS', ODD_NAME, 'USERS']);
  // Sluice serves /metrics, so the charts read the rows-in counter (no push queries).
  assert.match(await page.locator('#rate-source').textContent(), /sluice_stream_rows_in_total from \/metrics/);

  // A name that looks like markup is text everywhere, and quoting makes it work in SQL.
  await page.click(`#sources-table tr[data-source="${ODD_NAME}"]`);
  await page.locator('#source-detail h2', { hasText: ODD_NAME }).waitFor();
  assert.equal(await page.locator('#source-detail h2').textContent(), ODD_NAME);
  assert.equal(await page.locator('#source-detail b').count(), 0);
  assert.deepEqual(await schemaOf(page), [['V', 'INTEGER', '']]);

  await page.click('#sources-table tr[data-source="USERS"]');
  await page.locator('#source-detail h2', { hasText: 'USERS' }).waitFor();
  assert.deepEqual(await schemaOf(page), [['ID', 'STRING', 'PRIMARY KEY'], ['NAME', 'STRING', ''], ['AGE', 'INTEGER', '']]);

  await page.click('#sources-table tr[data-source="CLICKS"]');
  await page.locator('#source-detail h2', { hasText: 'CLICKS' }).waitFor();
  assert.deepEqual(await schemaOf(page), [['USERID', 'STRING', 'KEY'], ['PAGE', 'STRING', ''], ['MS', 'BIGINT', '']]);
  assert.match(await page.locator('#source-detail dl.facts').textContent(), /Partitions\s*2/);

  // Rows inserted while the view is open show in the stream's charts, in its list row and
  // in the big chart beside the schema. The charts count from their first reading of
  // /metrics (one a second while streams are watched), so let two readings pass first.
  const big = page.locator('#source-detail canvas.rate-chart.big');
  await big.waitFor();
  for (let i = 0; i < 2; i++) await page.waitForResponse((r) => r.url().endsWith('/metrics') && r.ok());
  const chartOf = (stream) => `#sources-table tr[data-source="${stream}"] canvas.rate-chart`;
  const charts = ['#source-detail canvas.big', chartOf('CLICKS'), chartOf('HOME_CLICKS')];
  const rows = 150;
  assert.equal(await insertRows(server.base, 'CLICKS', rows, (i) => ({ userid: `v${i}`, page: '/', ms: 1000 + i })), rows);
  // Each chart saw every row once, spread over the seconds they took to arrive. Rates from
  // the counter are its increase over the time between two readings, which is a second give
  // or take a few milliseconds, so the sum of a minute's rates is the row count within 2 %.
  for (const selector of charts) {
    await page.waitForFunction(([sel, n]) => Math.abs(Number(document.querySelector(sel)?.dataset.total) - n) <= n * 0.02, [selector, rows]);
    const peak = Number(await page.locator(selector).getAttribute('data-peak'));
    assert.ok(peak > 0 && peak < rows, `${selector}: peak ${peak} rows/s`);
  }
  // HOME_CLICKS is written by the persistent query from the same rows (page = '/').
  await page.screenshot({ path: path.join(shots, 'sources.png') });
});

test('queries: lists running queries and terminates one', async () => {
  await page.click('.tabs a[data-view="queries"]');
  const row = (id) => page.locator(`#queries-table tr[data-query-id="${id}"]`);
  await row('CSAS_HOME_CLICKS_2').waitFor();
  const editorQuery = await page.locator('#editor-output .result.live').getAttribute('data-query-id');
  await row(editorQuery).waitFor();
  assert.match(await row(editorQuery).textContent(), /editor/);
  assert.match(await row('CSAS_HOME_CLICKS_2').textContent(), /PERSISTENT.*RUNNING/);
  // Leaving the Streams view closed its rate-sampling queries.
  await page.waitForFunction(() => ![...document.querySelectorAll('#queries-table td.sql')].some((td) => td.textContent.includes('ROWOFFSET')));
  await page.screenshot({ path: path.join(shots, 'queries.png') });

  // Terminate asks for a second click, then the query is gone from the list and the server.
  const button = row('CSAS_HOME_CLICKS_2').locator('button');
  await button.click();
  assert.equal(await button.textContent(), 'Confirm terminate');
  await button.click();
  await row('CSAS_HOME_CLICKS_2').waitFor({ state: 'detached' });
  const [shown] = await ksql(server.base, 'SHOW QUERIES;');
  assert.deepEqual(shown.queries.map((q) => q.id).filter((id) => id.startsWith('CSAS')), []);

  // Terminating the editor's push query ends it in the editor too.
  await row(editorQuery).locator('button').click();
  await row(editorQuery).locator('button').click();
  await row(editorQuery).waitFor({ state: 'detached' });
  await page.click('.tabs a[data-view="editor"]');
  await page.locator('#run-status', { hasText: 'Query ended' }).waitFor();
  assert.equal(await page.locator('#stop').isDisabled(), true);
});

test('bad statements show the server\'s error', async () => {
  expectingBadRequests = true;
  await runInEditor('SELEC * FROM clicks;');
  const error = page.locator('#editor-error');
  await error.waitFor();
  assert.match(await error.textContent(), /Error 40001/);
  assert.match(await error.textContent(), /mismatched input 'SELEC'/);
  assert.match(await page.locator('#run-status').textContent(), /Failed/);
  await page.screenshot({ path: path.join(shots, 'error.png') });

  // A push query on a missing stream fails before any row, and says why.
  await runInEditor('SELECT * FROM nowhere EMIT CHANGES;');
  await page.locator('#editor-error', { hasText: 'NOWHERE does not exist' }).waitFor();
  assert.equal(await page.locator('#stop').isDisabled(), true);
  // A good statement clears the error.
  await runInEditor('SHOW TABLES;');
  expectingBadRequests = false;
  await cell('USERS').waitFor();
  assert.equal(await error.isHidden(), true);
});

test('no page errors, failed loads or requests off the server', () => {
  assert.deepEqual(problems, []);
});

/** Polls `check` until it returns something other than null (within WAIT_MS). */
async function waitFor(check) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${check}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runInEditor(sql) {
  if (!(await page.locator('#view-editor').isVisible())) await page.click('.tabs a[data-view="editor"]');
  await page.fill('#sql', sql);
  await page.click('#run');
}

/** The editor's result cell in a first column that says exactly `text`. */
function cell(text) {
  return page.locator('#editor-output tbody tr td:first-child').getByText(text, { exact: true });
}

async function schemaOf(p) {
  return p.locator('#source-detail .schema table tbody tr')
    .evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((td) => td.textContent)));
}

/** `POST /ksql` from node, for checks the browser does not make. */
async function ksql(base, statements) {
  const response = await fetch(`${base}/ksql`, { method: 'POST', body: JSON.stringify({ ksql: statements }) });
  assert.equal(response.status, 200);
  return response.json();
}

/**
 * Streams `count` rows to /inserts-stream over HTTP/2 (as ksqlDB clients do), paced at
 * INSERT_RATE_PER_S, and resolves to the number of ok acks.
 */
function insertRows(base, target, count, rowAt) {
  return new Promise((resolve, reject) => {
    const client = http2.connect(base);
    client.on('error', reject);
    const req = client.request({ ':method': 'POST', ':path': '/inserts-stream', 'content-type': 'application/json' });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      client.close();
      const acks = body.split('\n').filter(Boolean).map((l) => JSON.parse(l));
      const bad = acks.find((a) => a.status !== 'ok');
      if (bad) reject(new Error(`insert failed: ${JSON.stringify(bad)}`));
      else resolve(acks.length);
    });
    req.on('error', reject);
    req.write(`${JSON.stringify({ target })}\n`);
    let i = 0;
    const timer = setInterval(() => {
      req.write(`${JSON.stringify(rowAt(i))}\n`);
      i += 1;
      if (i === count) {
        clearInterval(timer);
        req.end();
      }
    }, 1000 / INSERT_RATE_PER_S);
  });
}
