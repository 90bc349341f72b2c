// Renders what the API answers: /ksql entities as tables (one renderer per "@type", JSON for
// the rest) and push/pull query rows as a live table.

import { h, fill, cellText } from './dom.js';
import { RateChart, formatRate } from './chart.js';

/** Rows a live table keeps on screen; older ones are dropped (the count still grows). */
export const LIVE_ROWS_SHOWN_MAX = 500;

function table(columns, rows) {
  return h('table', { class: 'grid' },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', {}, c)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, r.map((v) => (v instanceof Node ? h('td', {}, v) : h('td', {}, cellText(v))))))));
}

function card(title, ...body) {
  return h('div', { class: 'result' }, h('h3', {}, title), ...body);
}

/** One node per /ksql entity. */
export function renderEntity(entity) {
  const render = RENDERERS[entity['@type']];
  return render ? render(entity) : card(entity['@type'] ?? 'result', h('pre', {}, JSON.stringify(entity, null, 2)));
}

const RENDERERS = {
  currentStatus: (e) => card(e.statementText,
    h('span', { class: 'message' }, e.commandStatus?.message ?? e.commandStatus?.status)),
  terminate_query: (e) => card(e.statementText,
    h('span', { class: 'message' }, e.wasTerminated ? `Query ${e.queryId} terminated.` : `Query ${e.queryId} was not running.`)),
  streams: (e) => card(e.statementText, sourcesTable(e.streams)),
  tables: (e) => card(e.statementText, sourcesTable(e.tables)),
  queries: (e) => card(e.statementText, e.queries.length === 0 ? h('p', { class: 'empty' }, 'No queries are running.')
    : table(['Query id', 'Type', 'State', 'Sinks', 'Statement'],
      e.queries.map((q) => [q.id, q.queryType, q.state, (q.sinks ?? []).join(', '), q.queryString]))),
  kafka_topics: (e) => card(e.statementText, table(['Topic', 'Partitions'],
    e.topics.map((t) => [t.name, (t.replicaInfo ?? []).length]))),
  sourceDescription: (e) => card(e.statementText, describeSource(e.sourceDescription)),
  properties: (e) => card(e.statementText, table(['Property', 'Value'],
    (e.properties ?? []).map((p) => [p.name, p.value]))),
};

function sourcesTable(sources) {
  if (sources.length === 0) return h('p', { class: 'empty' }, 'None.');
  return table(['Name', 'Topic', 'Key format', 'Value format'],
    sources.map((s) => [s.name, s.topic, s.keyFormat, s.valueFormat]));
}

/** Schema and facts of a DESCRIBE [EXTENDED] answer. */
export function describeSource(d) {
  const facts = [
    ['Type', d.type],
    ['Topic', d.topic],
    ['Key format', d.keyFormat],
    ['Value format', d.valueFormat],
  ];
  if (d.extended) facts.push(['Partitions', d.partitions]);
  if (d.windowType) facts.push(['Window', d.windowType]);
  const queries = (list) => (list ?? []).map((q) => q.id ?? q).join(', ') || '—';
  facts.push(['Read by', queries(d.readQueries)], ['Written by', queries(d.writeQueries)]);
  return h('div', { class: 'schema' },
    h('dl', { class: 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', {}, cellText(v))])),
    table(['Column', 'Type', ''], d.fields.map((f) => [
      h('span', { class: 'mono' }, f.name),
      h('span', { class: 'mono' }, typeText(f.schema)),
      f.type === 'KEY' ? h('span', { class: 'badge key' }, d.type === 'TABLE' ? 'PRIMARY KEY' : 'KEY') : '',
    ])),
    d.statement ? h('pre', { class: 'statement' }, d.statement) : null);
}

/** ksqlDB's field schema (`{type, fields, memberSchema}`) back to its SQL type text. */
export function typeText(schema) {
  if (!schema) return '';
  switch (schema.type) {
    case 'ARRAY': return `ARRAY<${typeText(schema.memberSchema)}>`;
    case 'MAP': return `MAP<STRING, ${typeText(schema.memberSchema)}>`;
    case 'STRUCT': return `STRUCT<${(schema.fields ?? []).map((f) => `${f.name} ${typeText(f.schema)}`).join(', ')}>`;
    default: return schema.type;
  }
}

/**
 * A query's rows as they arrive: header columns, newest row on top, the total count and
 * a rows/s chart of this query's own rows. Rows are added once per animation frame so a
 * fast stream costs one layout per frame, not one per row.
 */
export class LiveResult {
  constructor() {
    this.count = 0;
    this.secondCount = 0;
    this.pending = [];
    this.frame = 0;
    this.chart = new RateChart({ width: 300, height: 64, axes: true });
    this.countEl = h('span', { class: 'row-count', 'data-count': 0 }, '0 rows');
    this.rateEl = h('span', { class: 'rate' }, '0 rows/s');
    this.idEl = h('span', { class: 'query-id' });
    this.tbody = h('tbody');
    this.thead = h('thead');
    this.lines = null;
    this.body = h('div', { class: 'scroll' }, h('table', { class: 'grid live-rows' }, this.thead, this.tbody));
    this.el = h('div', { class: 'result live' },
      h('div', { class: 'stream-head' }, this.countEl, this.rateEl, this.idEl, this.chart.canvas),
      this.body);
    this.timer = setInterval(() => {
      this.chart.push(this.secondCount);
      this.rateEl.textContent = `${formatRate(this.secondCount)} rows/s`;
      this.secondCount = 0;
    }, 1000);
  }

  header(header) {
    this.idEl.textContent = header.queryId ?? '';
    this.el.dataset.queryId = header.queryId ?? '';
    fill(this.thead, h('tr', {}, (header.columnNames ?? []).map((name, i) =>
      h('th', { title: header.columnTypes?.[i] ?? '' }, name))));
  }

  rows(rows) {
    this.count += rows.length;
    this.secondCount += rows.length;
    for (const row of rows) this.pending.push(row);
    if (this.pending.length > LIVE_ROWS_SHOWN_MAX) this.pending.splice(0, this.pending.length - LIVE_ROWS_SHOWN_MAX);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  /** PRINT's text lines. */
  text(lines) {
    if (!this.lines) {
      this.lines = h('pre', { class: 'print' });
      fill(this.body, this.lines);
    }
    this.count += lines.length;
    this.secondCount += lines.length;
    this.lines.append(lines.join('\n') + '\n');
    this.showCount();
  }

  flush() {
    this.frame = 0;
    const fresh = document.createDocumentFragment();
    for (let i = this.pending.length - 1; i >= 0; i--) {
      fresh.append(h('tr', {}, this.pending[i].map((v) => h('td', {}, cellText(v)))));
    }
    this.pending = [];
    this.tbody.prepend(fresh);
    while (this.tbody.rows.length > LIVE_ROWS_SHOWN_MAX) this.tbody.lastElementChild.remove();
    this.showCount();
  }

  showCount() {
    this.countEl.dataset.count = String(this.count);
    this.countEl.textContent = `${this.count} row${this.count === 1 ? '' : 's'}`;
  }

  /** Stops the chart's clock; the rows stay on screen. */
  end() {
    clearInterval(this.timer);
    if (this.frame) {
      cancelAnimationFrame(this.frame);
      this.flush();
    }
  }
}
