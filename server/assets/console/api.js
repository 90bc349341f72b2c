// The console's only way to the server: Sluice's public ksqlDB HTTP API, as any client
// would use it (README "The API, by example"; shared/reference/ksqldb-api.md).

/** A failed request: `status` is the HTTP status, `body` the parsed ksqlDB error if any. */
export class ApiError extends Error {
  constructor(status, body, text) {
    super(body?.message ?? text ?? `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

async function failure(response) {
  const text = await response.text();
  let body = null;
  try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  return new ApiError(response.status, body, text || `HTTP ${response.status}`);
}

/** `POST /ksql`: runs statements, resolves to the array of entities. */
export async function ksql(statements, streamsProperties = {}) {
  const response = await fetch('/ksql', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ ksql: statements, streamsProperties }),
  });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** `GET /info`. */
export async function info() {
  const response = await fetch('/info', { headers: { Accept: 'application/json' } });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** `POST /close-query`. Resolves false when the query had already ended. */
export async function closeQuery(queryId) {
  const response = await fetch('/close-query', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ queryId }),
  });
  return response.ok;
}

/**
 * `POST /query-stream` in the delimited format: a header line, then one JSON array per row
 * (ksqldb-api.md §3). Over HTTP/1.1 the body arrives chunked; it is read as it comes.
 *
 * handlers: onHeader(header), onRows(rows[]) per chunk, onText(lines[]) for PRINT (which
 * answers text/plain), onRowCount(n) for counting without parsing (see `countOnly`).
 * Resolves when the query ends (LIMIT, terminate, close); rejects with ApiError on a
 * refused query or an error element in the stream. `stop()` closes it on the server and
 * drops the connection.
 */
export function pushQuery(sql, properties, handlers, { countOnly = false } = {}) {
  const abort = new AbortController();
  let queryId = null;
  let stopped = false;
  const done = (async () => {
    let response;
    try {
      response = await fetch('/query-stream', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/vnd.ksqlapi.delimited.v1' },
        body: JSON.stringify({ sql, properties }),
        signal: abort.signal,
      });
    } catch (err) {
      if (stopped) return;
      throw err;
    }
    if (!response.ok) throw await failure(response);
    const text = (response.headers.get('Content-Type') ?? '').startsWith('text/plain');
    try {
      await readLines(response.body, (lines) => {
        if (text) {
          handlers.onText?.(lines);
          return;
        }
        if (queryId === null) {
          const first = lines.shift();
          const header = JSON.parse(first);
          if (header['@type']) streamError(first);
          queryId = header.queryId;
          handlers.onHeader?.(header);
        }
        if (lines.length === 0) return;
        if (countOnly) {
          // A rate sampler only needs how many rows came: an error element starts with `{`.
          if (lines[lines.length - 1].startsWith('{')) streamError(lines[lines.length - 1]);
          handlers.onRowCount?.(lines.length);
          return;
        }
        const rows = [];
        for (const line of lines) {
          const element = JSON.parse(line);
          if (Array.isArray(element)) rows.push(element);
          else if (element && element['@type']) streamError(line);
        }
        handlers.onRows?.(rows);
      });
    } catch (err) {
      if (stopped && err.name === 'AbortError') return;
      throw err;
    }
  })();
  return {
    get queryId() { return queryId; },
    done,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (queryId !== null) await closeQuery(queryId).catch(() => {});
      abort.abort();
    },
  };
}

function streamError(line) {
  const body = JSON.parse(line);
  throw new ApiError(200, body, body.message);
}

/** Calls `onLines` with each chunk's complete, non-empty lines. */
async function readLines(stream, onLines) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let partial = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const lines = (partial + value).split('\n');
    partial = lines.pop();
    const full = lines.filter((l) => l.length > 0);
    if (full.length > 0) onLines(full);
  }
  if (partial.trim().length > 0) onLines([partial]);
}

/** `GET /metrics` as text, or null when the server has none (today's Sluice: 404). */
export async function metricsText() {
  try {
    const response = await fetch('/metrics', { headers: { Accept: 'text/plain' } });
    return response.ok ? await response.text() : null;
  } catch {
    return null;
  }
}

/** A name (source or query id) as a quoted identifier: exact case, any characters. */
export function quote(name) {
  return `\`${name.replaceAll('`', '``')}\``;
}
