// The console's entry point: one view per tab, chosen by the URL's hash (#/editor,
// #/sources, #/queries) so reloads and links keep the view.

import { info } from './api.js';
import { EditorView } from './editor.js';
import { SourcesView } from './sources.js';
import { QueriesView } from './queries.js';

/** How often the header re-reads /info to show whether the server is up. */
const INFO_INTERVAL_MS = 10000;

const editor = new EditorView();
const sources = new SourcesView({
  openInEditor: (sql) => {
    location.hash = '#/editor';
    editor.load(sql);
  },
});
const queries = new QueriesView({
  ownQueries: () => ({ editor: editor.runningQueryId, samplers: sources.samplerQueryIds() }),
});
const views = { editor, sources, queries };
let current = null;

function route() {
  const name = location.hash.replace(/^#\/?/, '') || 'editor';
  const next = views[name] ? name : 'editor';
  if (next === current) return;
  if (current) views[current].hide();
  for (const key of Object.keys(views)) {
    document.getElementById(`view-${key}`).hidden = key !== next;
  }
  for (const link of document.querySelectorAll('.tabs a')) {
    if (link.dataset.view === next) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  current = next;
  views[next].show();
}

async function serverStatus() {
  const el = document.getElementById('server-status');
  try {
    const body = await info();
    const i = body.KsqlServerInfo ?? {};
    el.textContent = `${i.kafkaClusterId ?? 'sluice'} · ksqlDB API ${i.version ?? '?'} · ${i.serverStatus ?? ''}`;
    el.className = 'server up';
  } catch {
    el.textContent = 'server unreachable';
    el.className = 'server down';
  }
}

window.addEventListener('hashchange', route);
route();
serverStatus();
setInterval(serverStatus, INFO_INTERVAL_MS);
