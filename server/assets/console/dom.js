// Builds DOM nodes. Text from the server only ever becomes text nodes (never markup), so
// a column value or an error message cannot inject HTML.

/**
 * h('td', {class: 'mono', onclick: fn}, 'text', childNode, [more, children])
 * Attributes starting with "on" become event listeners; `null`/`false` ones are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(el.dataset, value);
    else el.setAttribute(name, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A cell's text for any JSON value: strings as they are, everything else as JSON. */
export function cellText(value) {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/** Shows a ksqlDB error body (or any thrown error) in an `.error` element. */
export function showError(el, err) {
  if (!err) {
    el.hidden = true;
    el.replaceChildren();
    return;
  }
  const body = err.body;
  const parts = [];
  if (body && typeof body === 'object' && body.error_code !== undefined) {
    parts.push(h('span', { class: 'code' }, `Error ${body.error_code}`));
    parts.push(String(body.message ?? ''));
    if (body.statementText) parts.push(h('pre', {}, body.statementText));
  } else {
    parts.push(String(err.message ?? err));
  }
  fill(el, parts);
  el.hidden = false;
}
