// Rows/s per stream, for the charts. Two sources behind one interface, chosen once:
//
// - MetricsRateSource: when `GET /metrics` answers 200 with the Prometheus counter
//   `sluice_stream_rows_in_total{stream="..."}`, the rate is its increase per second. One
//   request a second serves every stream, so every stream is charted.
// - PushQueryRateSource (today's server has no /metrics): a push query per watched stream,
//   from latest, counting the rows that arrive each second. Each holds an HTTP/1.1
//   connection, and a browser opens at most 6 per server, so at most PUSH_WATCHED_MAX
//   streams are sampled at once; the rest are left for the editor and /ksql.
//
// A source has: watch(stream), unwatch(stream), watching(stream), watched(), watchMax (how
// many streams it can sample at once), queryIds(), stop(), and calls
// onSample(stream, rowsPerSecond) once a second for each watched stream.

import { metricsText, pushQuery, quote } from './api.js';
import { SAMPLES_MAX } from './chart.js';

export const METRIC = 'sluice_stream_rows_in_total';
/** How often samples are taken. */
const SAMPLE_INTERVAL_MS = 1000;
/** Push queries the fallback keeps open at once (see the connection budget above). */
export const PUSH_WATCHED_MAX = 3;

/** Picks the /metrics source when the server has the counter, else push queries. */
export async function createRateSource(onSample) {
  const text = await metricsText();
  if (text !== null && text.includes(METRIC)) return new MetricsRateSource(onSample);
  return new PushQueryRateSource(onSample);
}

/** Keeps each stream's last minute of samples, so charts redrawn after a refresh keep theirs. */
export class RateHistory {
  constructor() { this.byStream = new Map(); }
  add(stream, rate) {
    const samples = this.byStream.get(stream) ?? [];
    samples.push(rate);
    if (samples.length > SAMPLES_MAX) samples.shift();
    this.byStream.set(stream, samples);
  }
  get(stream) { return this.byStream.get(stream) ?? []; }
  forget(stream) { this.byStream.delete(stream); }
}

export class PushQueryRateSource {
  constructor(onSample) {
    this.name = 'rows counted from a push query per stream';
    this.watchMax = PUSH_WATCHED_MAX;
    this.onSample = onSample;
    this.queries = new Map(); // stream -> { query, count }
    this.timer = setInterval(() => this.tick(), SAMPLE_INTERVAL_MS);
  }

  watching(stream) { return this.queries.has(stream); }
  watched() { return [...this.queries.keys()]; }

  /** Starts sampling `stream`; false when PUSH_WATCHED_MAX are already sampled. */
  watch(stream) {
    if (this.queries.has(stream)) return true;
    if (this.queries.size >= PUSH_WATCHED_MAX) return false;
    const entry = { count: 0, query: null };
    // One small column: only the count matters, so each row costs a few bytes on the wire.
    const sql = `SELECT ROWOFFSET FROM ${quote(stream)} EMIT CHANGES;`;
    entry.query = pushQuery(sql, { 'auto.offset.reset': 'latest' },
      { onRowCount: (n) => { entry.count += n; } }, { countOnly: true });
    entry.query.done
      .catch(() => {})
      .finally(() => { if (this.queries.get(stream) === entry) this.queries.delete(stream); });
    this.queries.set(stream, entry);
    return true;
  }

  unwatch(stream) {
    const entry = this.queries.get(stream);
    if (!entry) return;
    this.queries.delete(stream);
    entry.query.stop();
  }

  /** The console's own sampling queries, so the Queries view can label them. */
  queryIds() {
    return [...this.queries.values()].map((e) => e.query.queryId).filter(Boolean);
  }

  tick() {
    for (const [stream, entry] of this.queries) {
      const rate = entry.count * (1000 / SAMPLE_INTERVAL_MS);
      entry.count = 0;
      this.onSample(stream, rate);
    }
  }

  stop() {
    clearInterval(this.timer);
    for (const stream of [...this.queries.keys()]) this.unwatch(stream);
  }
}

export class MetricsRateSource {
  /** `readMetrics` and `nowMs` are the page's by default; tests drive them by hand. */
  constructor(onSample, { readMetrics = metricsText, nowMs = () => performance.now(), timer = true } = {}) {
    this.name = `${METRIC} from /metrics`;
    this.watchMax = Infinity;
    this.onSample = onSample;
    this.readMetrics = readMetrics;
    this.nowMs = nowMs;
    this.streams = new Set();
    this.last = null; // { atMs, counters: Map }
    this.timer = timer ? setInterval(() => this.tick(), SAMPLE_INTERVAL_MS) : 0;
  }

  watching(stream) { return this.streams.has(stream); }
  watched() { return [...this.streams]; }
  watch(stream) { this.streams.add(stream); return true; }
  unwatch(stream) {
    this.streams.delete(stream);
    // Rates resume from a fresh reading, not averaged over the time nothing was watched.
    if (this.streams.size === 0) this.last = null;
  }
  queryIds() { return []; }

  async tick() {
    if (this.streams.size === 0) return;
    const text = await this.readMetrics();
    if (text === null) return;
    const now = { atMs: this.nowMs(), counters: parseCounters(text, METRIC, 'stream') };
    const last = this.last;
    this.last = now;
    if (!last) return;
    const seconds = (now.atMs - last.atMs) / 1000;
    for (const stream of this.streams) {
      const before = last.counters.get(stream) ?? 0;
      const after = now.counters.get(stream) ?? 0;
      // A counter that went down was reset (server restart): count from zero, as rate() does.
      const delta = after >= before ? after - before : after;
      this.onSample(stream, seconds > 0 ? delta / seconds : 0);
    }
  }

  stop() { clearInterval(this.timer); }
}

/**
 * Sums a Prometheus text-format counter by one label's value:
 * `name{stream="S",partition="0"} 12` adds 12 to S. Comments and other metrics are skipped.
 */
export function parseCounters(text, name, label) {
  const sums = new Map();
  const labelRe = new RegExp(`(?:^|,)\\s*${label}="((?:[^"\\\\]|\\\\.)*)"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!rest.startsWith('{')) continue;
    const close = rest.lastIndexOf('}');
    if (close < 0) continue;
    const match = labelRe.exec(rest.slice(1, close));
    if (!match) continue;
    const value = Number(rest.slice(close + 1).trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    const key = match[1].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    sums.set(key, (sums.get(key) ?? 0) + value);
  }
  return sums;
}
