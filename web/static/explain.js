// Soltix web console: the timeline of an EXPLAIN plan's segments.

import {$, h, parseTime, fmtInt} from './core.js';

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

export function renderExplain(cols, rows) {
  const ix = (n) => cols.indexOf(n);
  const ci = {
    start: ix('segment_start'), end: ix('segment_end'), level: ix('level'), groups: ix('groups'),
    series: ix('series'), files: ix('files'), rows: ix('rows'), dirty: ix('dirty_buckets'), mem: ix('memory_points'),
    nodes: ix('nodes'), // a cluster router's storage nodes
  };
  const num = (r, c) => (c >= 0 && r[c] != null ? Number(r[c]) : 0);
  const segs = rows.map((r) => ({
    start: r[ci.start], end: r[ci.end], level: String(r[ci.level]),
    groups: ci.groups >= 0 ? r[ci.groups] : '', series: num(r, ci.series), files: num(r, ci.files),
    rows: num(r, ci.rows), dirty: num(r, ci.dirty), mem: num(r, ci.mem),
    nodes: ci.nodes >= 0 ? String(r[ci.nodes] || '') : '',
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
      'groups ' + (s.groups || '\u2014') + (s.nodes ? ' on nodes ' + s.nodes : '') + ', ' + s.series + ' series, ' + s.files + ' files\n' +
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
