// Soltix web console: plain JavaScript, no dependencies, no build step.
//
// It talks to the server only through the public HTTP API: GET
// /api/v1/query (POST for DELETE), POST /api/v1/write, POST
// /api/v1/admin/flush, GET /health, /ready, /metrics and /api/v1/cluster.
//
// Test hooks (stable, used by e2e/console_test.go):
//   #output[data-state]      idle | running | ok | error; data-seq counts finished runs
//   #results[data-rows]      rows in the last result; the table is #results table
//   #stats[data-levels]      levels the last SELECT used, comma-separated
//   #chart[data-series], [data-points]  series and points the chart drew (0 when hidden)
//   #explain[data-segments]  segments of the last EXPLAIN; one .seg[data-level] each
//   #browser[data-collections], li.coll[data-name], li.tag[data-key], [data-insert]
//   #write-result[data-status]  ok | error; one li per bad line
//   #status[data-health], [data-ready]; #flush[data-result]
//   #cluster[data-mode]      unknown | single (404: soltix serve) | cluster | error;
//                            [data-nodes], [data-groups]; rows #cluster-nodes tr[data-node][data-state]
//                            and #cluster-groups tr[data-group][data-state]; #status-cluster opens it
(function () {
  'use strict';

  const $ = (id) => document.getElementById(id);

  // h builds an element: h('a', {class: 'x', href: '/', onclick: f}, child...).
  // Text is always set as text, never parsed as HTML.
  function h(tag, props, ...kids) {
    const e = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = v;
        else if (k === 'dataset') Object.assign(e.dataset, v);
        else if (k === 'style') Object.assign(e.style, v);
        else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of kids.flat()) {
      if (c == null || c === false) continue;
      e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  const store = {
    get(key, def) {
      try {
        const v = localStorage.getItem(key);
        return v == null ? def : JSON.parse(v);
      } catch (e) {
        return def;
      }
    },
    set(key, v) {
      try {
        localStorage.setItem(key, JSON.stringify(v));
      } catch (e) {
        // Storage may be full or disabled; the console works without it.
      }
    },
  };

  // ---------------------------------------------------------------- API

  // parseJSON keeps integers beyond 2^53 exact, as BigInt, where the browser
  // gives the reviver the number's source text.
  function parseJSON(text) {
    return JSON.parse(text, function (key, value, ctx) {
      if (typeof value === 'number' && !Number.isSafeInteger(value) && Number.isInteger(value) &&
          ctx && typeof ctx.source === 'string' && /^-?\d+$/.test(ctx.source)) {
        return BigInt(ctx.source);
      }
      return value;
    });
  }

  async function request(method, path, body, headers, signal) {
    const resp = await fetch(path, {method, body, headers, signal, cache: 'no-store'});
    const text = await resp.text();
    let json = null;
    if ((resp.headers.get('Content-Type') || '').includes('json') && text) {
      try {
        json = parseJSON(text);
      } catch (e) {
        json = null;
      }
    }
    return {status: resp.status, ok: resp.ok, text, json};
  }

  function errText(r) {
    if (r.json && typeof r.json.error === 'string') return r.json.error;
    return 'HTTP ' + r.status + (r.text ? ': ' + r.text.slice(0, 300) : '');
  }

  function queryParams(q) {
    const p = new URLSearchParams({q, format: 'json'});
    if ($('levels').value === 'raw') p.set('levels', 'raw');
    return p;
  }

  // show runs a SHOW statement and returns its rows.
  async function show(q) {
    const r = await request('GET', '/api/v1/query?' + new URLSearchParams({q, format: 'json'}));
    if (!r.ok || !r.json) throw new Error(errText(r));
    return r.json.rows || [];
  }

  // ------------------------------------------------------ query language

  const RESERVED = new Set(('SELECT FROM WHERE AND OR NOT IN BETWEEN GROUP BY FILL ORDER LIMIT ' +
    'OFFSET AS EXPLAIN SHOW ASC DESC').split(' '));

  // quoteName writes a collection, field or tag name as the grammar wants it.
  function quoteName(n) {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) && !RESERVED.has(n.toUpperCase())) return n;
    return '"' + n.replace(/[\\"]/g, '\\$&') + '"';
  }

  function quoteString(s) {
    return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
  }

  // firstWord is the statement's first keyword, comments skipped.
  function firstWord(q) {
    const m = /^(?:\s|--[^\n]*(?:\n|$))*([A-Za-z]+)/.exec(q);
    return m ? m[1].toUpperCase() : '';
  }

  const TIME_RE = /^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$/;

  // parseTime turns an RFC 3339 UTC time of the API into milliseconds since
  // the epoch (with a fraction below the millisecond).
  function parseTime(v) {
    if (typeof v === 'number') return v;
    if (typeof v !== 'string') return NaN;
    const m = TIME_RE.exec(v);
    if (!m) return Date.parse(v);
    const year = +m[1];
    const d = new Date(Date.UTC(2000, +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
    d.setUTCFullYear(year);
    return d.getTime() + (m[7] ? Number('0.' + m[7]) * 1000 : 0);
  }

  // -------------------------------------------------------------- editor

  const editor = () => $('query');
  let history = store.get('soltix.history', []);
  let histPos = -1;
  let histDraft = '';

  function setEditor(text, focus = true) {
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
  function insertText(text) {
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

  function renderHistory() {
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

  function onEditorKey(e) {
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

  async function run(explain) {
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

  const MAX_TABLE_ROWS = 1000;

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

  function fmtInt(n) {
    return Number(n).toLocaleString('en-US');
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

  function cellText(v) {
    if (v === null || v === undefined) return 'null';
    return String(v);
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

  // ------------------------------------------------------------ chart

  const PALETTE = ['#2563eb', '#e4572e', '#17a673', '#9b5de5', '#f2a541', '#0891b2', '#d6336c',
    '#6a994e', '#5c677d', '#b5651d'];
  const DASHES = [[], [7, 4], [2, 3], [9, 3, 2, 3]];
  const MAX_SERIES = 40;

  const chart = {series: [], hidden: new Set(), geom: null, times: [], dropped: 0, yLabel: ''};

  // buildSeries finds the time column, the numeric columns and the columns
  // that name a group (strings and booleans, e.g. GROUP BY tags), and makes
  // one series per numeric column and group. It returns null when there is
  // nothing to plot over time.
  function buildSeries(cols, rows) {
    const ti = cols.indexOf('time');
    if (ti < 0 || rows.length < 2) return null;
    const numeric = [];
    const keys = [];
    for (let c = 0; c < cols.length; c++) {
      if (c === ti) continue;
      let num = 0;
      let other = 0;
      for (const r of rows) {
        const v = r[c];
        if (v === null || v === undefined) continue;
        if (typeof v === 'number' || typeof v === 'bigint') num++;
        else other++;
      }
      if (num > 0 && other === 0) numeric.push(c);
      else if (other > 0 && num === 0) keys.push(c);
    }
    if (!numeric.length) return null;
    const times = rows.map((r) => parseTime(r[ti]));
    const groups = new Map();
    rows.forEach((r, i) => {
      if (!Number.isFinite(times[i])) return;
      const k = keys.map((c) => String(r[c])).join('\u0000');
      let g = groups.get(k);
      if (!g) {
        const label = keys.map((c) => cols[c] + '=' + (r[c] === '' ? "''" : String(r[c])));
        g = {label: label.join(', '), idx: []};
        groups.set(k, g);
      }
      g.idx.push(i);
    });
    const series = [];
    let dropped = 0;
    const distinct = new Set();
    for (const c of numeric) {
      for (const g of groups.values()) {
        const pts = g.idx.map((i) => {
          const v = rows[i][c];
          return {t: times[i], v: v === null || v === undefined ? null : Number(v), raw: v};
        }).sort((a, b) => a.t - b.t);
        const nn = pts.filter((p) => p.v !== null && Number.isFinite(p.v));
        if (!nn.length) continue;
        if (series.length >= MAX_SERIES) {
          dropped++;
          continue;
        }
        let name;
        if (!keys.length) name = cols[c];
        else if (numeric.length === 1) name = g.label;
        else name = cols[c] + ' \u00b7 ' + g.label;
        const k = series.length;
        series.push({
          id: cols[c] + '\u0001' + g.label, name, points: pts, nn,
          color: PALETTE[k % PALETTE.length], dash: DASHES[Math.floor(k / PALETTE.length) % DASHES.length],
        });
        for (const p of nn) distinct.add(p.t);
      }
    }
    if (distinct.size < 2) return null;
    return {series, dropped, yLabel: numeric.length === 1 ? cols[numeric[0]] : ''};
  }

  function hideChart() {
    const box = $('chart');
    box.hidden = true;
    box.dataset.series = '0';
    box.dataset.points = '0';
    chart.series = [];
    chart.geom = null;
    clearHover();
  }

  function showChart(cols, rows) {
    const built = buildSeries(cols, rows);
    if (!built) {
      hideChart();
      return;
    }
    const keep = new Set(built.series.map((s) => s.id));
    for (const id of [...chart.hidden]) if (!keep.has(id)) chart.hidden.delete(id);
    chart.series = built.series;
    chart.dropped = built.dropped;
    chart.yLabel = built.yLabel;
    $('chart').hidden = false;
    renderLegend();
    drawChart();
  }

  function renderLegend() {
    const box = $('chart-legend');
    box.replaceChildren();
    for (const s of chart.series) {
      const off = chart.hidden.has(s.id);
      const sw = h('span', {class: 'swatch'});
      sw.style.borderTopColor = s.color;
      sw.style.borderTopStyle = s.dash.length ? 'dashed' : 'solid';
      box.append(h('button', {
        class: 'legend-item' + (off ? ' off' : ''), type: 'button', title: 'Show or hide ' + s.name,
        'aria-pressed': off ? 'false' : 'true', dataset: {name: s.name},
        onclick: () => {
          if (chart.hidden.has(s.id)) chart.hidden.delete(s.id);
          else chart.hidden.add(s.id);
          renderLegend();
          drawChart();
        },
      }, sw, h('span', {text: s.name})));
    }
    if (chart.dropped) {
      box.append(h('span', {class: 'muted', text: '+' + chart.dropped + ' more series not drawn'}));
    }
  }

  const SEC = 1000;
  const MIN = 60 * SEC;
  const HOUR = 60 * MIN;
  const DAY = 24 * HOUR;
  const TIME_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500,
    SEC, 2 * SEC, 5 * SEC, 10 * SEC, 15 * SEC, 30 * SEC,
    MIN, 2 * MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN,
    HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
    DAY, 2 * DAY, 7 * DAY, 14 * DAY];
  const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p2 = (n) => String(n).padStart(2, '0');

  // niceStep is 1, 2, 2.5 or 5 times a power of ten, at least x.
  function niceStep(x) {
    if (!(x > 0)) return 1;
    const mag = Math.pow(10, Math.floor(Math.log10(x)));
    const n = x / mag;
    return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * mag;
  }

  // timeTicks picks UTC-aligned ticks for [t0, t1] about every 100 pixels:
  // fixed steps up to two weeks (weeks start on Monday), then calendar
  // months and years.
  function timeTicks(t0, t1, px) {
    const want = Math.max(2, Math.floor(px / 100));
    const raw = (t1 - t0) / want;
    const ticks = [];
    const step = TIME_STEPS.find((s) => s >= raw);
    if (step !== undefined) {
      const off = step >= 7 * DAY ? 4 * DAY : 0; // 1970-01-05 is a Monday
      for (let t = Math.ceil((t0 - off) / step) * step + off; t <= t1; t += step) ticks.push(t);
      const unit = step < SEC ? 'ms' : step < MIN ? 's' : step < DAY ? 'min' : 'day';
      return {ticks, unit};
    }
    const months = raw / (30.44 * DAY);
    let mstep = [1, 2, 3, 6].find((m) => m >= months);
    let unit = 'month';
    if (mstep === undefined) {
      mstep = 12 * Math.max(1, Math.ceil(niceStep(months / 12)));
      unit = 'year';
    }
    const d = new Date(t0);
    let idx = d.getUTCFullYear() * 12 + d.getUTCMonth();
    idx = Math.ceil(idx / mstep) * mstep;
    for (;; idx += mstep) {
      const t = monthStart(idx);
      if (t < t0) continue;
      if (t > t1 || ticks.length > 1000) break;
      ticks.push(t);
    }
    return {ticks, unit};
  }

  function monthStart(idx) {
    const d = new Date(Date.UTC(2000, 0, 1));
    d.setUTCFullYear(Math.floor(idx / 12), ((idx % 12) + 12) % 12, 1);
    return d.getTime();
  }

  function tickLabel(t, unit) {
    const d = new Date(t);
    const hm = p2(d.getUTCHours()) + ':' + p2(d.getUTCMinutes());
    switch (unit) {
      case 'ms': return hm + ':' + p2(d.getUTCSeconds()) + '.' + String(d.getUTCMilliseconds()).padStart(3, '0');
      case 's': return hm + ':' + p2(d.getUTCSeconds());
      case 'min': return hm;
      case 'day': return MONTHS[d.getUTCMonth()] + ' ' + d.getUTCDate();
      case 'month': return MONTHS[d.getUTCMonth()];
      default: return String(d.getUTCFullYear());
    }
  }

  // tickContext is the second label line, shown where it changes: the date
  // under times of day, the year under days and months.
  function tickContext(t, unit) {
    const d = new Date(t);
    switch (unit) {
      case 'ms': case 's': case 'min':
        return d.getUTCFullYear() + '-' + p2(d.getUTCMonth() + 1) + '-' + p2(d.getUTCDate());
      case 'day': case 'month':
        return String(d.getUTCFullYear());
      default: return '';
    }
  }

  function fmtFullTime(t) {
    if (!Number.isFinite(t)) return String(t);
    const iso = new Date(Math.floor(t)).toISOString();
    return iso.replace('T', ' ').replace(/\.000Z$/, 'Z');
  }

  // numTicks gives nice ticks covering [lo, hi].
  function numTicks(lo, hi, n) {
    const step = niceStep((hi - lo) / n);
    const a = Math.floor(lo / step) * step;
    const b = Math.ceil(hi / step) * step;
    const ticks = [];
    for (let i = 0; a + i * step <= b + step * 1e-9; i++) ticks.push(a + i * step);
    return {ticks, step, lo: a, hi: b};
  }

  // fmtTick formats a y tick with as many decimals as the step needs, and
  // with k/M/G/T for large magnitudes when the step allows it.
  function fmtTick(v, step, maxAbs) {
    if (Math.abs(v) < step * 1e-9) v = 0;
    let div = 1;
    let suffix = '';
    for (const [d, s] of [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e4, 'k']]) {
      if (maxAbs >= d && step >= d / 1000) {
        div = d >= 1e6 ? d : 1e3;
        suffix = s;
        break;
      }
    }
    const st = step / div;
    let dec = 0;
    for (let x = st; dec < 12 && (x < 0.999999 || Math.abs(x - Math.round(x)) > 1e-6 * x); x *= 10) dec++;
    if (dec > 6 || maxAbs >= 1e15) return v === 0 ? '0' : v.toExponential(2);
    return (v / div).toFixed(dec) + suffix;
  }

  // fmtValue shortens a number for the tooltip (the table shows it whole).
  function fmtValue(v) {
    if (typeof v === 'number' && !Number.isInteger(v)) return String(Number(v.toPrecision(12)));
    return cellText(v);
  }

  function cssVar(name, def) {
    const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return v || def;
  }

  function drawChart() {
    const box = $('chart');
    if (box.hidden) return;
    const wrap = $('chart-plot');
    const cv = $('chart-canvas');
    const ov = $('chart-overlay');
    const W = Math.max(240, wrap.clientWidth);
    const H = Math.max(160, wrap.clientHeight);
    const dpr = window.devicePixelRatio || 1;
    for (const c of [cv, ov]) {
      c.width = Math.round(W * dpr);
      c.height = Math.round(H * dpr);
      c.style.width = W + 'px';
      c.style.height = H + 'px';
    }
    clearHover();
    const g = cv.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    const text = cssVar('--text', '#1d2330');
    const muted = cssVar('--muted', '#6b7280');
    const grid = cssVar('--grid', '#e5e7eb');
    const font = cssVar('--font', 'sans-serif');
    g.font = '12px ' + font;

    const vis = chart.series.filter((s) => !chart.hidden.has(s.id));
    let t0 = Infinity;
    let t1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    let npts = 0;
    const times = new Set();
    for (const s of vis) {
      for (const p of s.nn) {
        if (p.t < t0) t0 = p.t;
        if (p.t > t1) t1 = p.t;
        if (p.v < y0) y0 = p.v;
        if (p.v > y1) y1 = p.v;
        times.add(p.t);
      }
      npts += s.nn.length;
    }
    box.dataset.series = String(vis.length);
    box.dataset.points = String(npts);
    chart.times = [...times].sort((a, b) => a - b);
    if (!npts) {
      chart.geom = null;
      g.fillStyle = muted;
      g.textAlign = 'center';
      g.fillText('Every series is hidden: click the legend to show them.', W / 2, H / 2);
      return;
    }
    if (t0 === t1) {
      t0 -= MIN;
      t1 += MIN;
    }
    if (y0 === y1) {
      const d = Math.abs(y0) * 0.1 || 1;
      y0 -= d;
      y1 += d;
    }
    const yt = numTicks(y0, y1, Math.max(3, Math.floor(H / 60)));
    const maxAbs = Math.max(Math.abs(yt.lo), Math.abs(yt.hi));
    const ylab = yt.ticks.map((v) => fmtTick(v, yt.step, maxAbs));
    const lw = Math.max(...ylab.map((s) => g.measureText(s).width));
    const L = Math.ceil(lw) + 12 + (chart.yLabel ? 18 : 0);
    const R = 16;
    const T = 12;
    const B = 44;
    const pw = W - L - R;
    const ph = H - T - B;
    const X = (t) => L + ((t - t0) / (t1 - t0)) * pw;
    const Y = (v) => T + ph - ((v - yt.lo) / (yt.hi - yt.lo)) * ph;

    // Grid and y labels.
    g.lineWidth = 1;
    g.strokeStyle = grid;
    g.fillStyle = muted;
    g.textAlign = 'right';
    g.textBaseline = 'middle';
    yt.ticks.forEach((v, i) => {
      const y = Math.round(Y(v)) + 0.5;
      g.beginPath();
      g.moveTo(L, y);
      g.lineTo(L + pw, y);
      g.stroke();
      g.fillText(ylab[i], L - 8, y);
    });
    if (chart.yLabel) {
      g.save();
      g.translate(12, T + ph / 2);
      g.rotate(-Math.PI / 2);
      g.textAlign = 'center';
      g.textBaseline = 'middle';
      g.fillStyle = text;
      g.fillText(chart.yLabel, 0, 0);
      g.restore();
    }

    // Time axis.
    const xt = timeTicks(t0, t1, pw);
    g.textAlign = 'center';
    g.textBaseline = 'top';
    // A label is centred under its tick but kept inside the canvas.
    const label = (s, x, y) => {
      const w = g.measureText(s).width;
      g.fillText(s, Math.min(Math.max(x, w / 2 + 1), W - w / 2 - 1), y);
    };
    let prevCtx = null;
    xt.ticks.forEach((t, i) => {
      const x = Math.round(X(t)) + 0.5;
      g.strokeStyle = grid;
      g.beginPath();
      g.moveTo(x, T);
      g.lineTo(x, T + ph + 4);
      g.stroke();
      g.fillStyle = muted;
      label(tickLabel(t, xt.unit), x, T + ph + 7);
      const ctx = tickContext(t, xt.unit);
      if (i === 0 || ctx !== prevCtx) {
        g.fillStyle = text;
        label(i === 0 ? (ctx ? ctx + ' UTC' : 'UTC') : ctx, x, T + ph + 23);
        prevCtx = ctx;
      }
    });
    g.strokeStyle = muted;
    g.beginPath();
    g.moveTo(L + 0.5, T);
    g.lineTo(L + 0.5, T + ph + 0.5);
    g.lineTo(L + pw, T + ph + 0.5);
    g.stroke();

    // Lines, broken where a value is null; dots where there is room, and
    // always for points with no neighbour to join.
    g.save();
    g.beginPath();
    g.rect(L - 3, T - 3, pw + 6, ph + 6);
    g.clip();
    g.lineJoin = 'round';
    for (const s of vis) {
      g.strokeStyle = s.color;
      g.fillStyle = s.color;
      g.lineWidth = 1.75;
      g.setLineDash(s.dash);
      g.beginPath();
      let pen = false;
      for (const p of s.points) {
        if (p.v === null || !Number.isFinite(p.v)) {
          pen = false;
          continue;
        }
        const x = X(p.t);
        const y = Y(p.v);
        if (pen) g.lineTo(x, y);
        else g.moveTo(x, y);
        pen = true;
      }
      g.stroke();
      g.setLineDash([]);
      const dots = s.nn.length <= pw / 8;
      s.points.forEach((p, i) => {
        if (p.v === null || !Number.isFinite(p.v)) return;
        const prev = s.points[i - 1];
        const next = s.points[i + 1];
        const alone = (!prev || prev.v === null) && (!next || next.v === null);
        if (!dots && !alone) return;
        g.beginPath();
        g.arc(X(p.t), Y(p.v), 2.5, 0, 2 * Math.PI);
        g.fill();
      });
    }
    g.restore();
    chart.geom = {L, T, pw, ph, t0, t1, X, Y, W, H, dpr};
  }

  // nearestIndex returns the index in the sorted array a (of numbers, or
  // of objects with key k) whose value is nearest to x.
  function nearestIndex(a, x, k) {
    let lo = 0;
    let hi = a.length - 1;
    const val = k ? (i) => a[i][k] : (i) => a[i];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (val(mid) < x) lo = mid + 1;
      else hi = mid;
    }
    if (lo > 0 && Math.abs(val(lo - 1) - x) <= Math.abs(val(lo) - x)) return lo - 1;
    return lo;
  }

  function clearHover() {
    const ov = $('chart-overlay');
    const g = ov.getContext('2d');
    g.setTransform(1, 0, 0, 1, 0, 0);
    g.clearRect(0, 0, ov.width, ov.height);
    $('chart-tip').hidden = true;
  }

  function onChartHover(e) {
    const gm = chart.geom;
    if (!gm || !chart.times.length) return;
    const ov = $('chart-overlay');
    const rect = ov.getBoundingClientRect();
    const x = e.clientX - rect.left;
    const y = e.clientY - rect.top;
    if (x < gm.L - 4 || x > gm.L + gm.pw + 4 || y < gm.T || y > gm.T + gm.ph) {
      clearHover();
      return;
    }
    const t = gm.t0 + ((x - gm.L) / gm.pw) * (gm.t1 - gm.t0);
    const at = chart.times[nearestIndex(chart.times, t)];
    const px = gm.X(at);
    const hits = [];
    for (const s of chart.series) {
      if (chart.hidden.has(s.id)) continue;
      const p = s.nn[nearestIndex(s.nn, at, 't')];
      if (Math.abs(gm.X(p.t) - px) <= 12) hits.push({s, p});
    }
    const g = ov.getContext('2d');
    g.setTransform(gm.dpr, 0, 0, gm.dpr, 0, 0);
    g.clearRect(0, 0, gm.W, gm.H);
    g.strokeStyle = cssVar('--muted', '#6b7280');
    g.setLineDash([3, 3]);
    g.beginPath();
    g.moveTo(Math.round(px) + 0.5, gm.T);
    g.lineTo(Math.round(px) + 0.5, gm.T + gm.ph);
    g.stroke();
    g.setLineDash([]);
    g.lineWidth = 2;
    g.strokeStyle = cssVar('--panel', '#fff');
    for (const {s, p} of hits) {
      g.fillStyle = s.color;
      g.beginPath();
      g.arc(gm.X(p.t), gm.Y(p.v), 4, 0, 2 * Math.PI);
      g.fill();
      g.stroke();
    }

    const tip = $('chart-tip');
    tip.replaceChildren(h('div', {class: 'tip-time', text: fmtFullTime(at)}));
    hits.sort((a, b) => b.p.v - a.p.v);
    for (const {s, p} of hits) {
      const sw = h('span', {class: 'swatch'});
      sw.style.borderTopColor = s.color;
      tip.append(h('div', {class: 'tip-row', dataset: {name: s.name}},
        sw, h('span', {class: 'tip-name', text: s.name}), h('span', {class: 'tip-val', text: fmtValue(p.raw)})));
    }
    tip.hidden = false;
    const tw = tip.offsetWidth;
    const th = tip.offsetHeight;
    let left = px + 14;
    if (left + tw > gm.W) left = px - 14 - tw;
    tip.style.left = Math.max(0, left) + 'px';
    tip.style.top = Math.max(0, Math.min(y - th / 2, gm.H - th)) + 'px';
  }

  // ---------------------------------------------------------- explain

  const LEVELS = ['raw', '1h', '1d', '1M', '1y'];

  function shortTime(s) {
    if (s === '-inf') return '\u2212\u221e';
    if (s === '+inf') return '+\u221e';
    const t = parseTime(s);
    if (!Number.isFinite(t)) return String(s);
    return fmtShort(t);
  }

  function fmtShort(t) {
    const iso = new Date(Math.round(t)).toISOString();
    let out = iso.slice(0, 10);
    const rest = iso.slice(11, 23);
    if (rest !== '00:00:00.000') out += ' ' + rest.replace(/\.000$/, '').replace(/^(\d\d:\d\d):00$/, '$1');
    return out;
  }

  function renderExplain(cols, rows) {
    const ix = (n) => cols.indexOf(n);
    const ci = {
      start: ix('segment_start'), end: ix('segment_end'), level: ix('level'), groups: ix('groups'),
      series: ix('series'), files: ix('files'), rows: ix('rows'), dirty: ix('dirty_buckets'), mem: ix('memory_points'),
    };
    const num = (r, c) => (c >= 0 && r[c] != null ? Number(r[c]) : 0);
    const segs = rows.map((r) => ({
      start: r[ci.start], end: r[ci.end], level: String(r[ci.level]),
      groups: ci.groups >= 0 ? r[ci.groups] : '', series: num(r, ci.series), files: num(r, ci.files),
      rows: num(r, ci.rows), dirty: num(r, ci.dirty), mem: num(r, ci.mem),
    }));
    const box = $('explain');
    box.replaceChildren();
    box.hidden = false;
    box.dataset.segments = String(segs.length);
    const head = h('div', {class: 'explain-head'}, h('h3', {text: 'Plan'}));
    box.append(head);
    if (!segs.length) {
      box.append(h('p', {class: 'muted', text: 'The query reads no segment: its time range is empty.'}));
      return;
    }
    const sum = (k) => segs.reduce((a, s) => a + s[k], 0);
    const used = LEVELS.filter((l) => segs.some((s) => s.level === l));
    head.append(h('span', {class: 'muted', text:
      segs.length + (segs.length === 1 ? ' segment' : ' segments') + ' \u00b7 ' +
      fmtInt(sum('rows')) + ' rollup rows \u00b7 ' + fmtInt(sum('dirty')) + ' dirty buckets \u00b7 ' +
      fmtInt(sum('mem')) + ' values in memory'}));

    // Bar widths follow the segments' durations, with a floor so that a
    // short raw edge beside a year of 1M rows stays visible.
    const durs = segs.map((s) => {
      const a = parseTime(s.start);
      const b = parseTime(s.end);
      return Number.isFinite(a) && Number.isFinite(b) ? Math.max(b - a, 0) : NaN;
    });
    const total = durs.filter(Number.isFinite).reduce((a, b) => a + b, 0) || 1;
    const finiteWeights = durs.filter(Number.isFinite).map((d) => Math.max(d / total, 0.07));
    const openWeight = Math.max(0.3, ...finiteWeights.map((w) => w * 1.5));
    const weights = durs.map((d) => (Number.isFinite(d) ? Math.max(d / total, 0.07) : openWeight));

    const bar = h('div', {class: 'timeline', role: 'list'});
    const axis = h('div', {class: 'timeline-axis'});
    segs.forEach((s, i) => {
      let detail;
      if (s.level === 'raw') detail = fmtInt(s.files) + ' files \u00b7 ' + fmtInt(s.mem) + ' in memory';
      else detail = fmtInt(s.rows) + ' rows';
      const title = s.level + ' from ' + s.start + ' to ' + s.end + ' (inclusive)\n' +
        'groups ' + (s.groups || '\u2014') + ', ' + s.series + ' series, ' + s.files + ' files\n' +
        s.rows + ' rollup rows, ' + s.dirty + ' dirty buckets, ' + s.mem + ' values in memory';
      const seg = h('div', {
        class: 'seg lvl-' + s.level + (s.dirty > 0 ? ' dirty' : '') + (s.start === '-inf' ? ' open-start' : '') +
          (s.end === '+inf' ? ' open-end' : ''),
        role: 'listitem', title,
        dataset: {level: s.level, dirty: String(s.dirty)}, style: {flexGrow: String(weights[i])},
      }, h('strong', {text: s.level}), h('small', {text: detail}));
      if (s.dirty > 0) seg.append(h('span', {class: 'badge', text: s.dirty + ' dirty'}));
      bar.append(seg);
      axis.append(h('span', {style: {flexGrow: String(weights[i])}, text: shortTime(s.start)}));
    });
    const last = segs[segs.length - 1].end;
    const lastT = parseTime(last);
    axis.append(h('span', {class: 'axis-end', text: Number.isFinite(lastT) ? fmtShort(lastT) : shortTime(last)}));
    box.append(bar, axis);
    box.append(h('div', {class: 'legend levels'}, used.map((l) =>
      h('span', {class: 'legend-item static'}, h('span', {class: 'lvl lvl-' + l, text: l}),
        h('span', {class: 'muted', text: levelHelp(l)})))));
  }

  function levelHelp(l) {
    return {raw: 'raw points', '1h': 'hourly rollups', '1d': 'daily rollups', '1M': 'monthly rollups',
      '1y': 'yearly rollups'}[l] || '';
  }

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

  async function loadCollections() {
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

  async function sendWrite() {
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

  // ------------------------------------------------------ status, flush

  function parseMetrics(text) {
    const out = {};
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue;
      const m = /^([A-Za-z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (m) out[m[1]] = (out[m[1]] || 0) + Number(m[3]);
    }
    return out;
  }

  function setPill(id, good, label) {
    const p = $(id);
    p.classList.toggle('good', good === true);
    p.classList.toggle('bad', good === false);
    p.lastElementChild.textContent = label;
  }

  async function refreshStatus() {
    const st = $('status');
    const [hr, rr, mr, cr] = await Promise.allSettled([
      request('GET', '/health'), request('GET', '/ready'), request('GET', '/metrics'),
      request('GET', '/api/v1/cluster'),
    ]);
    const health = hr.status === 'fulfilled' && hr.value.ok ? 'ok' : 'down';
    const ready = rr.status === 'fulfilled' ? (rr.value.ok ? 'ready' : 'not ready') : 'down';
    st.dataset.health = health;
    st.dataset.ready = ready;
    setPill('status-health', health === 'ok', health === 'ok' ? 'healthy' : 'unreachable');
    setPill('status-ready', ready === 'ready', ready);
    const m = $('status-metrics');
    if (mr.status === 'fulfilled' && mr.value.ok) {
      const v = parseMetrics(mr.value.text);
      const parts = [];
      if ('soltix_points_written_total' in v) parts.push(fmtInt(v.soltix_points_written_total) + ' points written');
      if ('soltix_queries_total' in v) {
        parts.push(fmtInt(v.soltix_queries_total) + (v.soltix_queries_total === 1 ? ' query' : ' queries'));
      }
      const errs = (v.soltix_query_errors_total || 0) + (v.soltix_write_errors_total || 0);
      parts.push(fmtInt(errs) + (errs === 1 ? ' error' : ' errors'));
      m.textContent = parts.join(' \u00b7 ');
      m.title = 'Since the server started (from /metrics): ' + fmtInt(v.soltix_query_errors_total || 0) +
        ' query errors, ' + fmtInt(v.soltix_write_errors_total || 0) + ' write errors';
    } else {
      m.textContent = '';
    }
    renderCluster(cr.status === 'fulfilled' ? cr.value : null,
      mr.status === 'fulfilled' && mr.value.ok ? mr.value.text : '');
  }

  // ------------------------------------------------------------ cluster

  // parseLabels reads the labels of a sample, {a="x",b="y\"z"}, without
  // the braces.
  function parseLabels(s) {
    const out = new Map();
    const re = /\s*([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"\s*,?/y;
    let m;
    while ((m = re.exec(s))) out.set(m[1], m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c)));
    return out;
  }

  // labelled returns the samples of the metric name by the value of one of
  // their labels.
  function labelled(text, name, label) {
    const out = new Map();
    for (const line of text.split('\n')) {
      if (!line.startsWith(name + '{')) continue;
      const end = line.lastIndexOf('}');
      if (end < 0) continue;
      const labels = parseLabels(line.slice(name.length + 1, end));
      if (labels.has(label)) out.set(labels.get(label), Number(line.slice(end + 1).trim()));
    }
    return out;
  }

  let clusterMode = 'unknown';

  function clusterOpen() {
    return store.get('soltix.cluster.open', false) === true;
  }

  function showCluster(open) {
    const pill = $('status-cluster');
    const can = clusterMode === 'cluster' || clusterMode === 'error';
    $('cluster').hidden = !(open && can);
    pill.setAttribute('aria-expanded', String(open && can));
  }

  function toggleCluster() {
    if (clusterMode !== 'cluster' && clusterMode !== 'error') return;
    const open = !clusterOpen();
    store.set('soltix.cluster.open', open);
    showCluster(open);
  }

  // renderCluster shows the answer r of GET /api/v1/cluster (null when the
  // request failed) with the per-node counters of the /metrics text.
  function renderCluster(r, metricsText) {
    const box = $('cluster');
    const pill = $('status-cluster');
    if (!r) {
      clusterMode = 'unknown';
      box.dataset.mode = clusterMode;
      pill.hidden = true;
      showCluster(false);
      return;
    }
    if (r.status === 404) {
      // soltix serve: one process, no cluster to show.
      clusterMode = 'single';
      box.dataset.mode = clusterMode;
      box.dataset.nodes = '0';
      box.dataset.groups = '0';
      pill.hidden = false;
      pill.setAttribute('aria-disabled', 'true');
      pill.title = 'This server is a single node (soltix serve), not a cluster router';
      setPill('status-cluster', null, 'single node');
      showCluster(false);
      return;
    }
    pill.hidden = false;
    pill.removeAttribute('aria-disabled');
    pill.title = 'GET /api/v1/cluster: the storage nodes and the group map of this router';
    const st = r.json;
    if (!r.ok || !st || !Array.isArray(st.nodes) || !Array.isArray(st.groups)) {
      clusterMode = 'error';
      box.dataset.mode = clusterMode;
      const msg = r.ok ? 'unexpected answer from /api/v1/cluster' : errText(r);
      $('cluster-error').textContent = msg;
      $('cluster-error').hidden = false;
      setPill('status-cluster', false, 'cluster unavailable');
      showCluster(clusterOpen());
      return;
    }
    clusterMode = 'cluster';
    box.dataset.mode = clusterMode;
    $('cluster-error').hidden = true;

    const counter = (name) => (metricsText ? labelled(metricsText, name, 'node') : new Map());
    const fragments = counter('soltix_cluster_fragments_total');
    const writes = counter('soltix_cluster_write_requests_total');
    const errors = counter('soltix_cluster_errors_total');
    const num = (m, id) => (m.has(id) ? fmtInt(m.get(id)) : '\u2013');

    const up = new Set();
    const nodeRows = document.createDocumentFragment();
    for (const n of st.nodes) {
      const id = String(n.id);
      const isUp = n.state === 'up';
      if (isUp) up.add(id);
      nodeRows.append(h('tr', {dataset: {node: id, state: String(n.state)}},
        h('td', {text: id}),
        h('td', {text: String(n.addr)}),
        h('td', {class: isUp ? 'ok' : 'error'}, h('span', {class: 'state-dot ' + (isUp ? 'good' : 'bad')}), ' ' + String(n.state)),
        h('td', {class: 'num', text: String(n.groups)}),
        h('td', {class: 'num', text: num(fragments, id)}),
        h('td', {class: 'num', text: num(writes, id)}),
        h('td', {class: 'num' + (errors.get(id) > 0 ? ' warn' : ''), text: num(errors, id)})));
    }
    $('cluster-nodes').tBodies[0].replaceChildren(nodeRows);

    const states = {ok: 0, moving: 0, unavailable: 0};
    for (const g of st.groups) states[g.state] = (states[g.state] || 0) + 1;
    const groupRows = document.createDocumentFragment();
    const n = Math.min(st.groups.length, MAX_TABLE_ROWS);
    for (let i = 0; i < n; i++) {
      const g = st.groups[i];
      const replicas = Array.isArray(g.replicas) ? g.replicas.map(String) : [];
      const state = String(g.state) + (g.moving_to ? ' \u2192 ' + String(g.moving_to) : '');
      groupRows.append(h('tr', {dataset: {group: String(g.id), state: String(g.state)}},
        h('td', {class: 'num', text: String(g.id)}),
        h('td', {class: up.has(String(g.primary)) ? null : 'error', text: String(g.primary)}),
        h('td', {class: replicas.length ? null : 'null', text: replicas.length ? replicas.join(', ') : 'none'}),
        h('td', {class: 'num', text: String(g.epoch)}),
        h('td', {class: g.state === 'ok' ? 'ok' : g.state === 'moving' ? 'warn' : 'error', text: state})));
    }
    $('cluster-groups').tBodies[0].replaceChildren(groupRows);
    box.dataset.nodes = String(st.nodes.length);
    box.dataset.groups = String(st.groups.length);

    const parts = ['cluster \u201c' + String(st.name) + '\u201d', fmtInt(st.num_groups) + ' groups',
      'replication factor ' + String(st.replication_factor),
      fmtInt(states.ok) + ' ok, ' + fmtInt(states.moving) + ' moving, ' + fmtInt(states.unavailable) + ' unavailable'];
    if (st.groups.length > n) parts.push('showing the first ' + fmtInt(n) + ' groups');
    $('cluster-summary').textContent = parts.join(' \u00b7 ');

    const healthy = up.size === st.nodes.length && !states.unavailable;
    let label = up.size + '/' + st.nodes.length + ' nodes up';
    if (states.unavailable) {
      label += ', ' + fmtInt(states.unavailable) + (states.unavailable === 1 ? ' group' : ' groups') + ' unavailable';
    } else if (states.moving) {
      label += ', ' + fmtInt(states.moving) + ' moving';
    }
    setPill('status-cluster', healthy, label);
    showCluster(clusterOpen());
  }

  let toastTimer = 0;
  function toast(text, kind) {
    const t = $('toast');
    t.textContent = text;
    t.dataset.kind = kind;
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 5000);
  }

  async function flush() {
    const btn = $('flush');
    btn.disabled = true;
    delete btn.dataset.result;
    const t0 = performance.now();
    try {
      const r = await request('POST', '/api/v1/admin/flush');
      if (r.ok) {
        btn.dataset.result = 'ok';
        toast('Flushed in ' + Math.round(performance.now() - t0) +
          ' ms: everything acknowledged is in files and the rollups are up to date.', 'ok');
      } else {
        btn.dataset.result = 'error';
        toast('Flush failed: ' + errText(r), 'error');
      }
    } catch (e) {
      btn.dataset.result = 'error';
      toast('Flush failed: ' + e.message, 'error');
    } finally {
      btn.disabled = false;
      refreshStatus();
    }
  }

  // ------------------------------------------------------------- init

  function init() {
    const ta = editor();
    ta.addEventListener('keydown', onEditorKey);
    ta.addEventListener('input', () => {
      histPos = -1;
      store.set('soltix.editor', ta.value);
    });
    $('run').addEventListener('click', () => run(false));
    $('run-explain').addEventListener('click', () => run(true));
    $('browser-refresh').addEventListener('click', loadCollections);
    $('history-clear').addEventListener('click', () => {
      history = [];
      store.set('soltix.history', history);
      renderHistory();
    });
    $('write-send').addEventListener('click', sendWrite);
    $('write-body').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        sendWrite();
      }
    });
    $('flush').addEventListener('click', flush);
    $('status-cluster').addEventListener('click', toggleCluster);
    $('cluster-refresh').addEventListener('click', refreshStatus);
    const plot = $('chart-plot');
    plot.addEventListener('mousemove', onChartHover);
    plot.addEventListener('mouseleave', clearHover);
    let pending = false;
    new ResizeObserver(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        // Redraw only for a new size: a redraw clears the hover.
        const gm = chart.geom;
        if (!gm || gm.W !== Math.max(240, plot.clientWidth) || gm.H !== Math.max(160, plot.clientHeight)) drawChart();
      });
    }).observe(plot);
    if (/Mac|iPhone|iPad/.test(navigator.platform || '')) {
      for (const k of document.querySelectorAll('kbd.mod')) k.textContent = '\u2318';
    }

    renderHistory();
    const fromURL = new URLSearchParams(location.search).get('q');
    setEditor(fromURL != null ? fromURL : store.get('soltix.editor', ''), false);
    loadCollections();
    refreshStatus();
    setInterval(() => {
      if (!document.hidden) refreshStatus();
    }, 10000);
    if (fromURL) run(false);
    document.body.dataset.console = 'ready';
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
