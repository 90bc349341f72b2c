// The editor view: statements go to /ksql, queries (SELECT, PRINT) to /query-stream, whose
// rows stream into a live table until LIMIT, Stop, or a TERMINATE from anywhere.

import { ksql, pushQuery } from './api.js';
import { h, fill, showError } from './dom.js';
import { LiveResult, renderEntity } from './results.js';

const STORAGE_KEY = 'sluice.console.sql';

export class EditorView {
  constructor() {
    this.form = document.getElementById('editor-form');
    this.sql = document.getElementById('sql');
    this.runButton = document.getElementById('run');
    this.stopButton = document.getElementById('stop');
    this.offset = document.getElementById('offset-reset');
    this.status = document.getElementById('run-status');
    this.errorEl = document.getElementById('editor-error');
    this.output = document.getElementById('editor-output');
    this.running = null; // { query, live }

    this.sql.value = localStorage.getItem(STORAGE_KEY) ?? 'SHOW STREAMS;';
    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.run(); });
    this.sql.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); this.run(); }
    });
    this.stopButton.addEventListener('click', () => this.stop());
  }

  show() { this.sql.focus(); }
  hide() {}

  /** Puts `sql` in the editor (from the Streams & tables view). */
  load(sql) {
    this.sql.value = sql;
    this.sql.focus();
  }

  /** The query id of the push query the editor is showing, if one is running. */
  get runningQueryId() { return this.running?.query.queryId ?? null; }

  async run() {
    const text = this.sql.value.trim();
    if (!text) return;
    localStorage.setItem(STORAGE_KEY, this.sql.value);
    await this.stop();
    showError(this.errorEl, null);
    if (isQuery(text)) this.runQuery(text);
    else await this.runStatements(text);
  }

  async runStatements(text) {
    this.setStatus('Running…');
    this.runButton.disabled = true;
    try {
      const entities = await ksql(text, this.properties());
      fill(this.output, entities.length === 0
        ? h('div', { class: 'result' }, h('span', { class: 'message' }, 'Done.'))
        : entities.map(renderEntity));
      this.setStatus(`${entities.length} result${entities.length === 1 ? '' : 's'}`);
    } catch (err) {
      fill(this.output);
      // A statement_error lists the results of the statements that ran before it.
      const before = err.body?.entities ?? [];
      if (before.length) fill(this.output, before.map(renderEntity));
      showError(this.errorEl, err);
      this.setStatus('Failed');
    } finally {
      this.runButton.disabled = false;
    }
  }

  runQuery(text) {
    const live = new LiveResult();
    fill(this.output, live.el);
    const query = pushQuery(text, this.properties(), {
      onHeader: (header) => { live.header(header); this.setStatus('Streaming', true); },
      onRows: (rows) => live.rows(rows),
      onText: (lines) => live.text(lines),
    });
    const running = { query, live };
    this.running = running;
    this.stopButton.disabled = false;
    this.setStatus('Starting…');
    query.done
      .then(() => { if (this.running === running) this.setStatus('Query ended'); })
      .catch((err) => {
        showError(this.errorEl, err);
        if (live.count === 0 && !live.el.dataset.queryId) fill(this.output);
        this.setStatus('Failed');
      })
      .finally(() => {
        live.end();
        if (this.running === running) {
          this.running = null;
          this.stopButton.disabled = true;
        }
      });
  }

  async stop() {
    const running = this.running;
    if (!running) return;
    this.running = null;
    this.stopButton.disabled = true;
    await running.query.stop();
    running.live.end();
    this.setStatus('Stopped');
  }

  properties() {
    return { 'auto.offset.reset': this.offset.value };
  }

  setStatus(text, live = false) {
    this.status.textContent = text;
    this.status.classList.toggle('live', live);
  }
}

/** True when the first statement is a query (`/query-stream`), not a /ksql statement. */
export function isQuery(text) {
  const code = text.replace(/--[^\n]*|\/\*[\s\S]*?\*\//g, ' ').trimStart();
  return /^(SELECT|PRINT)\b/i.test(code);
}
