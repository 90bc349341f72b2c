// The "Queries" view: SHOW QUERIES every REFRESH_INTERVAL_MS while on screen, and TERMINATE
// for any of them (persistent queries and push queries alike, as ksqlDB allows).

import { ksql, quote } from './api.js';
import { h, fill, showError } from './dom.js';

/** How often the list is re-read while the view is shown. */
const REFRESH_INTERVAL_MS = 2000;
/** How long a first click on Terminate waits for the confirming second click. */
const CONFIRM_WINDOW_MS = 4000;

export class QueriesView {
  /** `ownQueries()` names the console's own queries: { editor: id|null, samplers: [id] }. */
  constructor({ ownQueries }) {
    this.ownQueries = ownQueries;
    this.tbody = document.querySelector('#queries-table tbody');
    this.empty = document.getElementById('queries-empty');
    this.errorEl = document.getElementById('queries-error');
    this.timer = 0;
    this.confirming = null; // { id, until }
    this.busy = false;
    document.getElementById('queries-refresh').addEventListener('click', () => this.refresh());
  }

  show() {
    this.refresh();
    this.timer = setInterval(() => this.refresh(), REFRESH_INTERVAL_MS);
  }

  hide() {
    clearInterval(this.timer);
    this.timer = 0;
  }

  async refresh() {
    if (this.busy) return;
    this.busy = true;
    try {
      const [entity] = await ksql('SHOW QUERIES;');
      this.render(entity.queries ?? []);
      showError(this.errorEl, null);
    } catch (err) {
      showError(this.errorEl, err);
    } finally {
      this.busy = false;
    }
  }

  render(queries) {
    const own = this.ownQueries();
    if (this.confirming && this.confirming.until < Date.now()) this.confirming = null;
    this.empty.hidden = queries.length > 0;
    fill(this.tbody, queries.map((q) => {
      let label = null;
      if (q.id === own.editor) label = h('span', { class: 'badge mine' }, 'editor');
      else if (own.samplers.includes(q.id)) label = h('span', { class: 'badge mine', title: 'Counts rows for a rows/s chart' }, 'rate chart');
      const confirming = this.confirming?.id === q.id;
      return h('tr', { dataset: { queryId: q.id } },
        h('td', { class: 'mono' }, q.id, ' ', label),
        h('td', {}, q.queryType ?? ''),
        h('td', {}, q.state ?? Object.keys(q.statusCount ?? {}).join(', ')),
        h('td', { class: 'mono' }, (q.sinks ?? []).join(', ')),
        h('td', { class: 'sql', title: q.queryString }, q.queryString),
        h('td', {}, h('button', {
          type: 'button',
          class: `small danger${confirming ? ' confirm' : ''}`,
          onclick: () => this.terminate(q.id),
        }, confirming ? 'Confirm terminate' : 'Terminate')));
    }));
  }

  async terminate(id) {
    if (this.confirming?.id !== id || this.confirming.until < Date.now()) {
      this.confirming = { id, until: Date.now() + CONFIRM_WINDOW_MS };
      const button = this.tbody.querySelector(`tr[data-query-id="${CSS.escape(id)}"] button`);
      if (button) {
        button.classList.add('confirm');
        button.textContent = 'Confirm terminate';
      }
      return;
    }
    this.confirming = null;
    try {
      await ksql(`TERMINATE ${quote(id)};`);
      showError(this.errorEl, null);
    } catch (err) {
      showError(this.errorEl, err);
    }
    await this.refresh();
  }
}
