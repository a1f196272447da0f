// Soltix web console: the query editor and its history, running a query,
// and the result's stats and table (the chart and the plan have their files).

import {$, h, store, request, errText, queryParams, firstWord, MAX_TABLE_ROWS, fmtInt, cellText} from './core.js';
import {hideChart, showChart} from './chart.js';
import {renderExplain} from './explain.js';
import {maybeDownsample, resetDownsample} from './downsample.js';
import {refreshStatus} from './status.js';

// -------------------------------------------------------------- editor

export const editor = () => $('query');
let history = store.get('soltix.history', []);
let histPos = -1;
let histDraft = '';

export function setEditor(text, focus = true) {
  const ta = editor();
  ta.value = text;
  if (focus) {
    ta.focus();
    ta.setSelectionRange(text.length, text.length);
  }
  store.set('soltix.editor', text);
}

// insertText puts text at the cursor, with a space before it when it
// would otherwise stick to the previous word.
export function insertText(text) {
  const ta = editor();
  const s = ta.selectionStart;
  const e = ta.selectionEnd;
  const before = ta.value.slice(0, s);
  const pre = before !== '' && !/[\s(,]$/.test(before) ? ' ' : '';
  ta.focus();
  ta.setRangeText(pre + text, s, e, 'end');
  store.set('soltix.editor', ta.value);
  histPos = -1;
}

function remember(q) {
  q = q.trim();
  if (!q) return;
  history = [q, ...history.filter((x) => x !== q)].slice(0, 100);
  store.set('soltix.history', history);
  histPos = -1;
  renderHistory();
}

// clearHistory forgets every query run so far.
export function clearHistory() {
  history = [];
  store.set('soltix.history', history);
  renderHistory();
}

// onEditorInput keeps what the user types and leaves history browsing.
export function onEditorInput(e) {
  histPos = -1;
  store.set('soltix.editor', e.target.value);
}

export function renderHistory() {
  const ol = $('history');
  ol.replaceChildren();
  if (!history.length) {
    ol.append(h('li', {class: 'muted', text: 'Queries you run appear here.'}));
    return;
  }
  for (const q of history.slice(0, 30)) {
    ol.append(h('li', null, h('button', {
      class: 'hist', type: 'button', title: q, text: q.replace(/\s+/g, ' '),
      onclick: () => setEditor(q),
    })));
  }
}

export function onEditorKey(e) {
  const ta = e.target;
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    run(e.shiftKey);
    return;
  }
  if (e.altKey || e.shiftKey || e.ctrlKey || e.metaKey || ta.selectionStart !== ta.selectionEnd) return;
  const v = ta.value;
  if (e.key === 'ArrowUp' && v.lastIndexOf('\n', ta.selectionStart - 1) === -1) {
    if (histPos + 1 >= history.length) return;
    if (histPos === -1) histDraft = v;
    histPos++;
    e.preventDefault();
    showHistoryEntry();
  } else if (e.key === 'ArrowDown' && v.indexOf('\n', ta.selectionEnd) === -1) {
    if (histPos < 0) return;
    histPos--;
    e.preventDefault();
    showHistoryEntry();
  }
}

function showHistoryEntry() {
  const ta = editor();
  const text = histPos < 0 ? histDraft : history[histPos];
  ta.value = text;
  ta.setSelectionRange(text.length, text.length);
  store.set('soltix.editor', text);
}

// ---------------------------------------------------------- running

let inflight = null;

function setState(state) {
  const out = $('output');
  out.dataset.state = state;
  if (state !== 'running') out.dataset.seq = String(Number(out.dataset.seq || 0) + 1);
  $('run').textContent = state === 'running' ? 'Running\u2026' : 'Run';
}

export async function run(explain) {
  const ta = editor();
  let q = ta.value;
  if (!q.trim()) {
    showMessage('Type a query first, e.g. SHOW COLLECTIONS.', 'info');
    return;
  }
  let shift = 0; // characters added before the text on its first line
  if (explain && firstWord(q) !== 'EXPLAIN') {
    q = 'EXPLAIN ' + q;
    shift = 8;
  }
  const isDelete = firstWord(q) === 'DELETE';
  if (isDelete && !window.confirm('Run this DELETE? It removes points for good.')) return;
  remember(ta.value);
  if (inflight) inflight.abort();
  const ctl = new AbortController();
  inflight = ctl;
  setState('running');
  hideMessage();
  const params = queryParams(q);
  const t0 = performance.now();
  let r;
  try {
    if (isDelete) {
      r = await request('POST', '/api/v1/query', params, {'Content-Type': 'application/x-www-form-urlencoded'}, ctl.signal);
    } else {
      r = await request('GET', '/api/v1/query?' + params, undefined, undefined, ctl.signal);
    }
  } catch (err) {
    if (ctl.signal.aborted) return;
    inflight = null;
    showMessage('Request failed: ' + err.message, 'error');
    setState('error');
    return;
  }
  if (inflight !== ctl) return;
  inflight = null;
  const elapsed = performance.now() - t0;
  if (!r.ok || !r.json || !Array.isArray(r.json.columns)) {
    showQueryError(r, shift);
    setState('error');
    refreshStatus();
    return;
  }
  const csv = $('csv');
  if (isDelete) {
    csv.hidden = true;
  } else {
    params.set('format', 'csv');
    csv.href = '/api/v1/query?' + params;
    csv.hidden = false;
  }
  render(r.json, elapsed);
  if (!isDelete && !explain) {
    // A query run meanwhile aborts the downsampling requests.
    inflight = ctl;
    try {
      await maybeDownsample(q, r.json.columns, r.json.rows || [], ctl.signal);
    } catch (err) {
      if (ctl.signal.aborted) return;
    }
    if (inflight !== ctl) return;
    inflight = null;
  } else {
    resetDownsample();
  }
  setState('ok');
  refreshStatus();
}

function showMessage(text, kind, extra) {
  const m = $('message');
  m.replaceChildren(h('div', {class: 'msg-text', text}), extra || null);
  m.dataset.kind = kind;
  m.hidden = false;
}

function hideMessage() {
  $('message').hidden = true;
}

// showQueryError shows the 400's message and, when it has a position,
// the query line with a caret under the column, and selects that place in
// the editor.
function showQueryError(r, shift) {
  const pos = r.json && r.json.position;
  let extra = null;
  if (pos && pos.line > 0) {
    const ta = editor();
    const lines = ta.value.split('\n');
    const line = pos.line - 1;
    const col = Math.max(0, pos.column - 1 - (line === 0 ? shift : 0));
    if (line < lines.length) {
      const text = lines[line];
      extra = h('pre', {class: 'caret'}, text + '\n' + ' '.repeat(Math.min(col, text.length)) + '^');
      let off = 0;
      for (let i = 0; i < line; i++) off += lines[i].length + 1;
      off += Math.min(col, text.length);
      const end = off + ((/^[^\s,()]*/.exec(text.slice(col)) || [''])[0].length || 1);
      ta.focus();
      ta.setSelectionRange(off, Math.min(end, ta.value.length));
    }
  }
  showMessage(errText(r), 'error', extra);
}

// ---------------------------------------------------------- results

function render(res, elapsed) {
  const cols = res.columns;
  const rows = res.rows || [];
  const isExplain = ['segment_start', 'segment_end', 'level', 'dirty_buckets'].every((c) => cols.includes(c));
  renderStats(res, rows, elapsed);
  renderTable(cols, rows, isExplain);
  if (isExplain) {
    hideChart();
    renderExplain(cols, rows);
  } else {
    const ex = $('explain');
    ex.hidden = true;
    ex.dataset.segments = '0';
    ex.replaceChildren();
    showChart(cols, rows);
  }
}

function renderStats(res, rows, elapsed) {
  const box = $('stats');
  box.replaceChildren();
  const line = h('div', {class: 'stats-line'},
    h('span', {class: 'stat', text: fmtInt(rows.length) + (rows.length === 1 ? ' row' : ' rows')}),
    h('span', {class: 'stat', text: elapsed.toFixed(elapsed < 10 ? 1 : 0) + ' ms'}));
  box.append(line);
  const st = res.stats;
  box.dataset.levels = '';
  if (!st) return;
  const levels = st.levels || [];
  box.dataset.levels = levels.map((l) => l.level).join(',');
  if (levels.length) {
    line.append(h('span', {class: 'stat-label', text: 'read'}));
    for (const l of levels) {
      const parts = [];
      if (l.rows) parts.push(fmtInt(l.rows) + ' rows');
      if (l.points) parts.push(fmtInt(l.points) + ' points');
      if (l.blocks) parts.push(fmtInt(l.blocks) + ' block stats');
      line.append(h('span', {class: 'chip', title: 'level ' + l.level, dataset: {level: l.level}},
        h('span', {class: 'lvl lvl-' + l.level, text: l.level}),
        parts.length ? ' ' + parts.join(', ') : ' \u2014'));
    }
  } else {
    line.append(h('span', {class: 'stat-label', text: 'read nothing'}));
  }
  if (st.notes && st.notes.length) {
    box.append(h('ul', {class: 'notes'}, st.notes.map((n) => h('li', {text: n}))));
  }
}

function renderTable(cols, rows, isExplain) {
  const box = $('results');
  box.replaceChildren();
  box.dataset.rows = String(rows.length);
  if (!cols.length) {
    box.append(h('p', {class: 'muted', text: 'No columns.'}));
    return;
  }
  const table = h('table', null,
    h('thead', null, h('tr', null, cols.map((c) => h('th', {scope: 'col', text: c})))));
  const tbody = h('tbody');
  const lvl = isExplain ? cols.indexOf('level') : -1;
  const dirty = isExplain ? cols.indexOf('dirty_buckets') : -1;
  const n = Math.min(rows.length, MAX_TABLE_ROWS);
  const frag = document.createDocumentFragment();
  for (let i = 0; i < n; i++) {
    const tr = document.createElement('tr');
    const row = rows[i];
    for (let c = 0; c < cols.length; c++) {
      const v = row[c];
      const td = document.createElement('td');
      if (c === lvl) {
        td.append(h('span', {class: 'lvl lvl-' + v, text: cellText(v)}));
      } else {
        td.textContent = cellText(v);
      }
      if (v === null || v === undefined) td.className = 'null';
      else if (typeof v === 'number' || typeof v === 'bigint') td.className = 'num';
      if (c === dirty && Number(v) > 0) td.className += ' warn';
      tr.append(td);
    }
    frag.append(tr);
  }
  tbody.append(frag);
  table.append(tbody);
  box.append(h('div', {class: 'table-wrap'}, table));
  if (!rows.length) box.append(h('p', {class: 'muted', text: 'No rows.'}));
  if (rows.length > n) {
    box.append(h('p', {class: 'muted',
      text: 'Showing the first ' + fmtInt(n) + ' of ' + fmtInt(rows.length) + ' rows; download the CSV for all of them.'}));
  }
}
