// Soltix web console: plain JavaScript, no dependencies, no build step.
// This file is the entry point (an ES module, loaded by index.html); it wires
// the page's events to the parts: core.js (DOM, storage, API, quoting),
// query.js (editor, history, running, results), chart.js, explain.js,
// sidebar.js (collection browser, write) and status.js (status bar, cluster
// view, flush). Server strings are always set as text, never parsed as HTML.
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

import {$, store} from './core.js';
import {editor, setEditor, renderHistory, onEditorKey, onEditorInput, clearHistory, run} from './query.js';
import {chart, drawChart, clearHover, onChartHover} from './chart.js';
import {loadCollections, sendWrite} from './sidebar.js';
import {refreshStatus, toggleCluster, flush} from './status.js';

// ------------------------------------------------------------- init

function init() {
  const ta = editor();
  ta.addEventListener('keydown', onEditorKey);
  ta.addEventListener('input', onEditorInput);
  $('run').addEventListener('click', () => run(false));
  $('run-explain').addEventListener('click', () => run(true));
  $('browser-refresh').addEventListener('click', loadCollections);
  $('history-clear').addEventListener('click', clearHistory);
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
