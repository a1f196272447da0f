// Soltix web console: the helpers every part uses (DOM building, local
// storage, the HTTP API, the query language's quoting, times, numbers).

export const $ = (id) => document.getElementById(id);

// h builds an element: h('a', {class: 'x', href: '/', onclick: f}, child...).
// Text is always set as text, never parsed as HTML.
export function h(tag, props, ...kids) {
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

export const store = {
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

// The token, when the server asks for one (401), lives in sessionStorage:
// it is gone when the tab closes and is sent as a Bearer token.
const TOKEN_KEY = 'soltix.token';
let tokenPrompt = null; // the pending prompt, shared by concurrent 401s

function savedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch (e) {
    return '';
  }
}

// askToken asks once for a token, however many requests answered 401.
function askToken(wrong) {
  if (!tokenPrompt) {
    tokenPrompt = new Promise((resolve) => {
      const t = window.prompt(wrong ? 'That token was refused. Soltix token:' :
        'This server requires a token. Soltix token:') || '';
      try {
        if (t) sessionStorage.setItem(TOKEN_KEY, t.trim());
        else sessionStorage.removeItem(TOKEN_KEY);
      } catch (e) {
        // Without sessionStorage the token is asked again next time.
      }
      resolve(t.trim());
    }).finally(() => { setTimeout(() => { tokenPrompt = null; }, 0); });
  }
  return tokenPrompt;
}

async function fetchWithToken(method, path, body, headers, signal) {
  const send = (tok) => {
    const h = new Headers(headers || {});
    if (tok) h.set('Authorization', 'Bearer ' + tok);
    return fetch(path, {method, body, headers: h, signal, cache: 'no-store'});
  };
  let tok = savedToken();
  let resp = await send(tok);
  if (resp.status === 401 && !signal?.aborted) {
    const asked = await askToken(tok !== '');
    if (asked && asked !== tok) resp = await send(asked);
  }
  return resp;
}

export async function request(method, path, body, headers, signal) {
  const resp = await fetchWithToken(method, path, body, headers, signal);
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

export function errText(r) {
  if (r.json && typeof r.json.error === 'string') return r.json.error;
  return 'HTTP ' + r.status + (r.text ? ': ' + r.text.slice(0, 300) : '');
}

export function queryParams(q) {
  const p = new URLSearchParams({q, format: 'json'});
  if ($('levels').value === 'raw') p.set('levels', 'raw');
  return p;
}

// show runs a SHOW statement and returns its rows.
export async function show(q) {
  const r = await request('GET', '/api/v1/query?' + new URLSearchParams({q, format: 'json'}));
  if (!r.ok || !r.json) throw new Error(errText(r));
  return r.json.rows || [];
}

// ------------------------------------------------------ query language

const RESERVED = new Set(('SELECT FROM WHERE AND OR NOT IN BETWEEN GROUP BY FILL ORDER LIMIT ' +
  'OFFSET AS EXPLAIN SHOW ASC DESC').split(' '));

// quoteName writes a collection, field or tag name as the grammar wants it.
export function quoteName(n) {
  if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(n) && !RESERVED.has(n.toUpperCase())) return n;
  return '"' + n.replace(/[\\"]/g, '\\$&') + '"';
}

export function quoteString(s) {
  return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "''") + "'";
}

// firstWord is the statement's first keyword, comments skipped.
export function firstWord(q) {
  const m = /^(?:\s|--[^\n]*(?:\n|$))*([A-Za-z]+)/.exec(q);
  return m ? m[1].toUpperCase() : '';
}

const TIME_RE = /^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z$/;

// parseTime turns an RFC 3339 UTC time of the API into milliseconds since
// the epoch (with a fraction below the millisecond).
export function parseTime(v) {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  const m = TIME_RE.exec(v);
  if (!m) return Date.parse(v);
  const year = +m[1];
  const d = new Date(Date.UTC(2000, +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
  d.setUTCFullYear(year);
  return d.getTime() + (m[7] ? Number('0.' + m[7]) * 1000 : 0);
}


export const MAX_TABLE_ROWS = 1000;

export function fmtInt(n) {
  return Number(n).toLocaleString('en-US');
}

export function cellText(v) {
  if (v === null || v === undefined) return 'null';
  return String(v);
}
