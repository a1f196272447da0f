// Soltix web console: the collection browser and the line protocol writer.

import {$, h, request, errText, show, quoteName, quoteString} from './core.js';
import {setEditor, insertText} from './query.js';
import {refreshStatus} from './status.js';

// ---------------------------------------------------------- browser

function insertButton(text, label, kind) {
  return h('button', {
    class: 'ins', type: 'button', title: 'Insert ' + text, dataset: {insert: text, kind}, text: label,
    onclick: () => insertText(text),
  });
}

function twisty(onclick) {
  return h('button', {class: 'twisty', type: 'button', 'aria-expanded': 'false', title: 'Expand', onclick});
}

export async function loadCollections() {
  const tree = $('tree');
  const open = new Set([...tree.querySelectorAll('li.coll.open')].map((li) => li.dataset.name));
  let rows;
  try {
    rows = await show('SHOW COLLECTIONS');
  } catch (e) {
    tree.replaceChildren(h('li', {class: 'error', text: e.message}));
    return;
  }
  tree.replaceChildren();
  if (!rows.length) tree.append(h('li', {class: 'muted', text: 'No collections yet: write some data below.'}));
  for (const [name] of rows) {
    const li = h('li', {class: 'coll', dataset: {name}});
    li.append(h('div', {class: 'row'},
      twisty(() => toggleCollection(li)),
      insertButton(quoteName(name), name, 'collection'),
      h('button', {
        class: 'mini', type: 'button', text: 'query', title: 'Put a query of ' + name + ' in the editor',
        onclick: () => setEditor('SELECT * FROM ' + quoteName(name) + ' ORDER BY time DESC LIMIT 100'),
      })));
    tree.append(li);
    if (open.has(name)) toggleCollection(li);
  }
  $('browser').dataset.collections = String(rows.length);
}

function setOpen(li, open) {
  li.classList.toggle('open', open);
  const t = li.querySelector(':scope > .row > .twisty');
  if (t) t.setAttribute('aria-expanded', String(open));
}

async function toggleCollection(li) {
  const old = li.querySelector(':scope > ul');
  if (old) {
    old.remove();
    setOpen(li, false);
    return;
  }
  setOpen(li, true);
  const name = li.dataset.name;
  const sub = h('ul', {class: 'sub'}, h('li', {class: 'muted', text: 'loading\u2026'}));
  li.append(sub);
  let fields;
  let tags;
  try {
    [fields, tags] = await Promise.all([
      show('SHOW FIELDS FROM ' + quoteName(name)),
      show('SHOW TAG KEYS FROM ' + quoteName(name)),
    ]);
  } catch (e) {
    sub.replaceChildren(h('li', {class: 'error', text: e.message}));
    return;
  }
  sub.replaceChildren();
  sub.append(h('li', {class: 'group', text: 'fields'}));
  for (const [f, type] of fields) {
    sub.append(h('li', {class: 'field', dataset: {name: f}},
      h('div', {class: 'row'}, h('span', {class: 'twisty-space'}), insertButton(quoteName(f), f, 'field'),
        h('span', {class: 'type', text: type}))));
  }
  if (!fields.length) sub.append(h('li', {class: 'muted', text: 'none'}));
  sub.append(h('li', {class: 'group', text: 'tags'}));
  for (const [k] of tags) {
    const tli = h('li', {class: 'tag', dataset: {key: k}});
    tli.append(h('div', {class: 'row'}, twisty(() => toggleTag(tli, name)), insertButton(quoteName(k), k, 'tag')));
    sub.append(tli);
  }
  if (!tags.length) sub.append(h('li', {class: 'muted', text: 'none'}));
}

async function toggleTag(li, coll) {
  const old = li.querySelector(':scope > ul');
  if (old) {
    old.remove();
    setOpen(li, false);
    return;
  }
  setOpen(li, true);
  const key = li.dataset.key;
  const sub = h('ul', {class: 'sub'}, h('li', {class: 'muted', text: 'loading\u2026'}));
  li.append(sub);
  let rows;
  try {
    rows = await show('SHOW TAG VALUES FROM ' + quoteName(coll) + ' WITH KEY = ' + quoteName(key));
  } catch (e) {
    sub.replaceChildren(h('li', {class: 'error', text: e.message}));
    return;
  }
  sub.replaceChildren();
  const LIMIT = 200;
  for (const r of rows.slice(0, LIMIT)) {
    const v = String(r[1]);
    sub.append(h('li', {class: 'value'}, h('div', {class: 'row'}, h('span', {class: 'twisty-space'}),
      insertButton(quoteName(key) + ' = ' + quoteString(v), v === '' ? "''" : v, 'value'))));
  }
  if (rows.length > LIMIT) sub.append(h('li', {class: 'muted', text: '+' + (rows.length - LIMIT) + ' more'}));
  if (!rows.length) sub.append(h('li', {class: 'muted', text: 'none'}));
}

// ------------------------------------------------------------ write

export async function sendWrite() {
  const ta = $('write-body');
  const out = $('write-result');
  const body = ta.value;
  out.replaceChildren();
  delete out.dataset.status;
  if (!body.trim()) {
    out.dataset.status = 'error';
    out.append(h('p', {class: 'error', text: 'Paste some line protocol first.'}));
    return;
  }
  const btn = $('write-send');
  btn.disabled = true;
  let r;
  try {
    r = await request('POST', '/api/v1/write?precision=' + encodeURIComponent($('write-precision').value),
      body, {'Content-Type': 'text/plain; charset=utf-8'});
  } catch (e) {
    out.dataset.status = 'error';
    out.append(h('p', {class: 'error', text: 'Request failed: ' + e.message}));
    return;
  } finally {
    btn.disabled = false;
  }
  const lines = body.split('\n');
  if (r.status === 204) {
    const n = lines.filter((l) => l.trim() && !l.trim().startsWith('#')).length;
    out.dataset.status = 'ok';
    out.append(h('p', {class: 'ok', text: 'Wrote ' + n + (n === 1 ? ' line.' : ' lines.')}));
    loadCollections();
    refreshStatus();
    return;
  }
  out.dataset.status = 'error';
  out.append(h('p', {class: 'error', text: errText(r)}));
  const bad = r.json && Array.isArray(r.json.lines) ? r.json.lines : [];
  if (!bad.length) return;
  const ul = h('ul', {class: 'bad-lines'});
  for (const b of bad) {
    const src = (lines[b.line - 1] || '').replace(/\r$/, '');
    let snippet = null;
    if (src) {
      const col = Math.max(0, (b.column || 1) - 1);
      const from = Math.max(0, col - 30);
      const part = src.slice(from, from + 60);
      snippet = h('pre', {class: 'caret'},
        (from > 0 ? '\u2026' : '') + part + '\n' + (b.column ? ' '.repeat(col - from + (from > 0 ? 1 : 0)) + '^' : ''));
    }
    ul.append(h('li', {dataset: {line: String(b.line)}},
      h('button', {class: 'link', type: 'button', title: 'Select this line', onclick: () => selectLine(ta, b.line),
        text: 'line ' + b.line + (b.column ? ':' + b.column : '')}),
      ' ', h('span', {text: b.reason}), snippet));
  }
  out.append(ul);
}

function selectLine(ta, n) {
  const lines = ta.value.split('\n');
  let off = 0;
  for (let i = 0; i < n - 1 && i < lines.length; i++) off += lines[i].length + 1;
  const len = (lines[n - 1] || '').length;
  ta.focus();
  ta.setSelectionRange(off, off + len);
  const lh = parseFloat(getComputedStyle(ta).lineHeight) || 16;
  ta.scrollTop = Math.max(0, (n - 2) * lh);
}
