// Soltix web console: the status bar (health, readiness, metrics), the
// cluster view of GET /api/v1/cluster, and flushing.

import {$, h, store, request, errText, fmtInt, MAX_TABLE_ROWS} from './core.js';

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

export async function refreshStatus() {
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

export function toggleCluster() {
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

export async function flush() {
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
