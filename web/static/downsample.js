// Soltix web console: charting long raw series. When a raw select's
// result has a series with more points than the chart can show (its
// pixel width, at most DOWNSAMPLE_BUDGET), the chart is redrawn from
// downsample(f, n) (LTTB, the query language's; docs/query.md
// "Analytics"): at most n real points per series, the first and last
// kept. The table keeps the raw rows. #chart's data-downsampled holds n
// (empty when the chart shows the raw points).

import {$, h, request, queryParams} from './core.js';
import {showChart, chart} from './chart.js';

export const DOWNSAMPLE_BUDGET = 1000;

const NAME = /^(?:[A-Za-z_][A-Za-z0-9_.]*|"(?:[^"\\]|\\.)*")$/;

// splitSelect splits a raw select of plain names, SELECT a, b FROM ...,
// into its head, names and the rest; null for any other statement.
export function splitSelect(q) {
  const m = /^(\s*SELECT\s+)([\s\S]+?)(\s+FROM\s[\s\S]*)$/i.exec(q);
  if (!m) return null;
  const items = m[2].split(',').map((s) => s.trim());
  if (!items.length || !items.every((s) => NAME.test(s))) return null;
  return {head: m[1], items, tail: m[3]};
}

function unquote(s) {
  return s.startsWith('"') ? s.slice(1, -1).replace(/\\(.)/g, '$1') : s;
}

// budget is the number of points a series may have on the chart.
export function budget() {
  const w = Math.floor($('chart-plot').clientWidth || 0);
  return Math.max(2, Math.min(DOWNSAMPLE_BUDGET, w > 0 ? w : DOWNSAMPLE_BUDGET));
}

function setNote(text) {
  const box = $('chart');
  let note = $('chart-note');
  if (!note) {
    note = h('p', {id: 'chart-note', class: 'chart-note muted'});
    box.append(note);
  }
  note.textContent = text;
  note.hidden = !text;
}

// resetDownsample marks the chart as showing raw points.
export function resetDownsample() {
  $('chart').dataset.downsampled = '';
  setNote('');
}

// maybeDownsample redraws the chart of q's result (cols, rows) from
// downsample(f, n) when one of its series has more than n points. It
// resolves when done; a failure leaves the raw chart and says why.
export async function maybeDownsample(q, cols, rows, signal) {
  resetDownsample();
  const sp = splitSelect(q);
  if (!sp || $('chart').hidden) return;
  const n = budget();
  let most = 0;
  for (const s of chart.series) most = Math.max(most, s.nn.length);
  if (most <= n) return;
  // The numeric columns of the result that are items of the select.
  const fields = [];
  for (const it of sp.items) {
    const name = unquote(it);
    const c = cols.indexOf(name);
    if (c < 0) continue;
    const r = rows.find((row) => row[c] !== null && row[c] !== undefined);
    if (r && (typeof r[c] === 'number' || typeof r[c] === 'bigint')) fields.push({it, name});
  }
  if (!fields.length) return;
  const tagCols = [];
  const merged = [];
  for (let k = 0; k < fields.length; k++) {
    const text = sp.head + 'downsample(' + fields[k].it + ', ' + n + ')' + sp.tail;
    let r;
    try {
      r = await request('GET', '/api/v1/query?' + queryParams(text), undefined, undefined, signal);
    } catch (err) {
      if (signal && signal.aborted) throw err;
      setNote('Chart shows the raw points: downsampling failed (' + err.message + ').');
      return;
    }
    if (!r.ok || !r.json || !Array.isArray(r.json.columns)) {
      setNote('Chart shows the raw points: downsampling failed (' + ((r.json && r.json.error) || r.status) + ').');
      return;
    }
    const dc = r.json.columns;
    const vc = dc.findIndex((c) => c.startsWith('downsample('));
    for (const row of r.json.rows || []) {
      const out = {t: row[0], tags: {}, k, v: row[vc]};
      dc.forEach((c, i) => {
        if (i === 0 || i === vc) return;
        if (!tagCols.includes(c)) tagCols.push(c);
        out.tags[c] = row[i];
      });
      merged.push(out);
    }
  }
  const mcols = ['time', ...tagCols, ...fields.map((f) => f.name)];
  const mrows = merged.map((o) => {
    const row = [o.t, ...tagCols.map((c) => (o.tags[c] === undefined ? '' : o.tags[c]))];
    fields.forEach((_, k) => row.push(k === o.k ? o.v : null));
    return row;
  });
  showChart(mcols, mrows);
  $('chart').dataset.downsampled = String(n);
  setNote('Chart downsampled: the largest series has ' + most.toLocaleString('en-US') +
    ' points, more than the chart\u2019s ' + n + '; it is drawn from downsample(' +
    fields.map((f) => f.it).join('), downsample(') + ', ' + n + ') (LTTB: at most ' + n +
    ' real points per series, first and last kept). The table shows every row.');
}
