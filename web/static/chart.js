// Soltix web console: the time-series chart of a result (canvas drawing,
// UTC time axis, legend, hover tooltip).

import {$, h, parseTime, cellText} from './core.js';

// ------------------------------------------------------------ chart

const PALETTE = ['#2563eb', '#e4572e', '#17a673', '#9b5de5', '#f2a541', '#0891b2', '#d6336c',
  '#6a994e', '#5c677d', '#b5651d'];
const DASHES = [[], [7, 4], [2, 3], [9, 3, 2, 3]];
const MAX_SERIES = 40;

export const chart = {series: [], hidden: new Set(), geom: null, times: [], dropped: 0, yLabel: ''};

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

export function hideChart() {
  const box = $('chart');
  box.hidden = true;
  box.dataset.series = '0';
  box.dataset.points = '0';
  box.dataset.seriesMaxPoints = '0';
  chart.series = [];
  chart.geom = null;
  clearHover();
}

export function showChart(cols, rows) {
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

export function drawChart() {
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
  let most = 0;
  const times = new Set();
  for (const s of vis) {
    most = Math.max(most, s.nn.length);
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
  box.dataset.seriesMaxPoints = String(most);
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

export function clearHover() {
  const ov = $('chart-overlay');
  const g = ov.getContext('2d');
  g.setTransform(1, 0, 0, 1, 0, 0);
  g.clearRect(0, 0, ov.width, ov.height);
  $('chart-tip').hidden = true;
}

export function onChartHover(e) {
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
