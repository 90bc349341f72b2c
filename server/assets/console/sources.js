// The "Streams & tables" view: every stream and table (SHOW STREAMS; SHOW TABLES;), a live
// rows/s chart per stream, and the selected source's schema (DESCRIBE EXTENDED).

import { ksql, quote } from './api.js';
import { h, fill, showError } from './dom.js';
import { RateChart, formatRate } from './chart.js';
import { createRateSource, RateHistory } from './rates.js';
import { describeSource } from './results.js';

export class SourcesView {
  constructor({ openInEditor }) {
    this.openInEditor = openInEditor;
    this.tbody = document.querySelector('#sources-table tbody');
    this.empty = document.getElementById('sources-empty');
    this.errorEl = document.getElementById('sources-error');
    this.detail = document.getElementById('source-detail');
    this.rateLabel = document.getElementById('rate-source');
    this.sources = []; // [{ name, type, topic, keyFormat, valueFormat }]
    this.selected = null;
    this.priority = []; // streams asked for most recently first (selected, "Watch" clicks)
    this.charts = new Map(); // stream -> [{ chart, label }]
    this.history = new RateHistory();
    this.rates = null;
    this.ratesStarting = null;
    this.visible = false;
    document.getElementById('sources-refresh').addEventListener('click', () => this.refresh());
    document.addEventListener('visibilitychange', () => this.reconcileWatches());
  }

  async show() {
    this.visible = true;
    await this.refresh();
  }

  hide() {
    this.visible = false;
    this.reconcileWatches();
  }

  /** The console's own rate-sampling query ids (for the Queries view's labels). */
  samplerQueryIds() { return this.rates?.queryIds() ?? []; }

  async refresh() {
    try {
      const entities = await ksql('SHOW STREAMS; SHOW TABLES;');
      const streams = entities.find((e) => e['@type'] === 'streams')?.streams ?? [];
      const tables = entities.find((e) => e['@type'] === 'tables')?.tables ?? [];
      this.sources = [...streams, ...tables].sort((a, b) => a.name.localeCompare(b.name));
      showError(this.errorEl, null);
    } catch (err) {
      showError(this.errorEl, err);
      return;
    }
    const names = new Set(this.sources.map((s) => s.name));
    for (const name of [...this.history.byStream.keys()]) if (!names.has(name)) this.history.forget(name);
    if (this.selected && !names.has(this.selected)) this.selected = null;
    await this.startRates();
    this.reconcileWatches();
    this.renderList();
    if (this.selected) await this.select(this.selected);
    else fill(this.detail, h('p', { class: 'empty' }, 'Select a stream or table to see its schema.'));
  }

  async startRates() {
    if (this.rates) return;
    this.ratesStarting ??= createRateSource((stream, rate) => this.sample(stream, rate));
    this.rates = await this.ratesStarting;
    this.rateLabel.textContent = `rows/s: ${this.rates.name}`;
  }

  streams() { return this.sources.filter((s) => s.type === 'STREAM').map((s) => s.name); }

  /**
   * Samples the streams whose charts are on screen, while the view is: every stream, or the
   * first `watchMax` of those asked for most recently, then in list order.
   */
  reconcileWatches() {
    if (!this.rates) return;
    const on = this.visible && document.visibilityState === 'visible';
    const streams = this.streams();
    const ordered = on ? [...new Set([...this.priority.filter((s) => streams.includes(s)), ...streams])] : [];
    const wanted = ordered.slice(0, this.rates.watchMax);
    // Unwatch first, so the slots are free for the streams that replace them.
    for (const s of this.rates.watched()) if (!wanted.includes(s)) this.rates.unwatch(s);
    for (const s of wanted) this.rates.watch(s);
  }

  sample(stream, rate) {
    this.history.add(stream, rate);
    for (const { chart, label } of this.charts.get(stream) ?? []) {
      chart.push(rate);
      label.textContent = `${formatRate(rate)}/s`;
    }
  }

  watchNow(stream) {
    this.priority = [stream, ...this.priority.filter((s) => s !== stream)];
    this.reconcileWatches();
    this.renderList();
  }

  renderList() {
    // The list's charts go with its rows; the selected stream's big chart stays.
    for (const [stream, list] of this.charts) this.charts.set(stream, list.filter((c) => c.big));
    this.empty.hidden = this.sources.length > 0;
    fill(this.tbody, this.sources.map((s) => {
      const row = h('tr', {
        class: `selectable${s.name === this.selected ? ' selected' : ''}`,
        dataset: { source: s.name },
        onclick: () => this.select(s.name),
      },
      h('td', { class: 'mono' }, s.name),
      h('td', {}, h('span', { class: `badge ${s.type.toLowerCase()}` }, s.type)),
      h('td', { class: 'mono' }, s.topic),
      h('td', {}, s.valueFormat),
      this.chartCell(s));
      return row;
    }));
  }

  chartCell(source) {
    if (source.type !== 'STREAM') return h('td', { class: 'hint' }, '—');
    if (!this.rates?.watching(source.name)) {
      return h('td', {}, h('button', {
        type: 'button', class: 'small',
        title: 'Each sampled stream holds a connection; this samples it instead of another',
        onclick: (e) => { e.stopPropagation(); this.watchNow(source.name); },
      }, 'Watch rate'));
    }
    return h('td', { class: 'chart-cell' }, this.chartFor(source.name, { width: 110, height: 26 }));
  }

  /** A chart (and its rate label) fed by `sample` for as long as it is on screen. */
  chartFor(stream, size, big = false) {
    const chart = new RateChart(size);
    chart.setSamples(this.history.get(stream));
    chart.canvas.dataset.stream = stream;
    const label = h('span', { class: 'rate' }, `${formatRate(chart.rate)}/s`);
    const list = this.charts.get(stream) ?? [];
    list.push({ chart, label, big });
    this.charts.set(stream, list);
    return [chart.canvas, label];
  }

  async select(name) {
    this.selected = name;
    for (const tr of this.tbody.rows) tr.classList.toggle('selected', tr.dataset.source === name);
    let description;
    try {
      const [entity] = await ksql(`DESCRIBE EXTENDED ${quote(name)};`);
      description = entity.sourceDescription;
    } catch (err) {
      fill(this.detail);
      const errorEl = h('div', { class: 'error' });
      showError(errorEl, err);
      this.detail.append(errorEl);
      return;
    }
    if (this.selected !== name) return;
    const isStream = description.type === 'STREAM';
    if (isStream && !this.priority.includes(name)) {
      this.priority = [name, ...this.priority];
      this.reconcileWatches();
      this.renderList();
    }
    // Drop the old big chart's subscription before drawing a new one.
    for (const [stream, list] of this.charts) this.charts.set(stream, list.filter((c) => !c.big));
    let chart = null;
    if (isStream && this.rates?.watching(name)) {
      const [canvas, label] = this.chartFor(name, { width: 420, height: 120, axes: true }, true);
      canvas.classList.add('big');
      chart = h('div', { class: 'big-chart' }, h('div', { class: 'hint' }, 'Rows/s  ', label), canvas);
    }
    fill(this.detail,
      h('div', { class: 'panel-head' },
        h('h2', { class: 'mono' }, description.name),
        h('span', { class: `badge ${description.type.toLowerCase()}` }, description.type)),
      h('div', { class: 'detail-actions' },
        h('button', {
          type: 'button', class: 'primary',
          onclick: () => this.openInEditor(`SELECT * FROM ${sqlName(name)} EMIT CHANGES;`),
        }, 'Query in editor'),
        h('button', {
          type: 'button',
          onclick: () => this.openInEditor(`DESCRIBE EXTENDED ${sqlName(name)};`),
        }, 'Describe in editor')),
      chart,
      describeSource(description));
  }
}

/** A name as a person would type it: bare when that reads back as the same name. */
function sqlName(name) {
  return /^[A-Z_][A-Z0-9_]*$/.test(name) ? name : quote(name);
}
