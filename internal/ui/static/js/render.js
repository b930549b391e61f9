// render.js: building blocks every page shares — elements, numbers,
// tables, badges, progress, problems and inline SVG charts.

import { ApiError, token } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  add(el, children);
  return el;
}

function add(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** h('a', {href, class}, ...children): an HTML element. */
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

/** s('rect', {x, y}, ...children): an SVG element. */
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVG, tag), attrs, children);
}

/** Replaces the children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

// ---- numbers and times ------------------------------------------------------

const formats = new Map();
function numberFormat(digits) {
  let f = formats.get(digits);
  if (!f) {
    f = new Intl.NumberFormat('en-US', {
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
      signDisplay: 'negative',
    });
    formats.set(digits, f);
  }
  return f;
}

/** 1234567.891 → "1,234,567.89"; a value that rounds to zero has no sign. */
export function fmtNum(v, digits = 2) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  return numberFormat(digits).format(v);
}

/** An integer count with thousands separators. */
export const fmtInt = (n) => fmtNum(n, 0);

/** 0.0425 → "4.250%" (a rate given as a fraction). */
export function fmtRate(v, digits = 3) {
  return typeof v === 'number' ? `${fmtNum(v * 100, digits)}%` : '—';
}

/** A number as a right-aligned span: data-value holds the exact value. */
export function num(v, digits = 2) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return h('span', { class: 'none' }, '—');
  const text = fmtNum(v, digits);
  return h('span', { class: text.startsWith('-') ? 'n neg' : 'n', 'data-value': String(v) }, text);
}

/** "2026-01-23T17:00:00Z" → "2026-01-23 17:00:00Z"; '' → '—'. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?Z$/.exec(iso);
  return m ? `${m[1]} ${m[2]}Z` : iso;
}

/** A duration between two RFC 3339 times, "1m 04s"; '' when either is missing. */
export function fmtDuration(from, to) {
  if (!from || !to) return '';
  const ms = Date.parse(to) - Date.parse(from);
  if (!Number.isFinite(ms) || ms < 0) return '';
  if (ms < 1000) return `${ms} ms`;
  const sec = Math.round(ms / 1000);
  if (sec < 60) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(sec / 60);
  const r = String(sec % 60).padStart(2, '0');
  if (m < 60) return `${m}m ${r}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

// ---- measures -----------------------------------------------------------

/**
 * A measure value as the API gives it: a number, or an object of numbers
 * per key (FX_DELTA per currency), or of such objects (KR01 per curve and
 * tenor).
 */
export function measureValue(v, digits = 2) {
  if (typeof v === 'number') return num(v, digits);
  if (!v || typeof v !== 'object') return h('span', { class: 'none' }, '—');
  const entries = Object.entries(v);
  if (entries.every(([, x]) => typeof x === 'number')) {
    return h('span', { class: 'measure-obj' },
      entries.map(([k, x]) => [h('span', { class: 'k' }, k), num(x, digits)]));
  }
  // Nested: one column per outer key, one row per inner key.
  const cols = entries.map(([k]) => k);
  const rowKeys = [];
  for (const [, inner] of entries) {
    for (const k of Object.keys(inner || {})) if (!rowKeys.includes(k)) rowKeys.push(k);
  }
  let total = 0;
  for (const [, , x] of leaves(v)) total += x;
  return h('details', { class: 'measure' },
    h('summary', null, h('span', { class: 'muted small' }, 'Σ '),
      h('span', { class: total < 0 ? 'n neg total' : 'n total' }, fmtNum(total, digits)),
      h('span', { class: 'muted small' }, ` · ${cols.length} ${cols.length === 1 ? 'curve' : 'curves'}`)),
    h('table', { class: 'data' },
      h('thead', null, h('tr', null, h('th', null, ''), cols.map((c) => h('th', { class: 'num' }, c)))),
      h('tbody', null, rowKeys.map((r) => h('tr', null, h('td', null, r),
        cols.map((c) => h('td', { class: 'num' }, num(v[c]?.[r], digits))))))));
}

/** [path, label, value] for every number in a measure value (a number: one leaf, path ''). */
export function leaves(v, path = []) {
  if (typeof v === 'number') return [[path.join('\u0000'), path.join(' · '), v]];
  if (!v || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => leaves(x, [...path, k]));
}

/** The number at a leaf path of a measure value (undefined when absent). */
export function leafAt(v, path) {
  if (path === '') return typeof v === 'number' ? v : undefined;
  let x = v;
  for (const k of path.split('\u0000')) x = x?.[k];
  return typeof x === 'number' ? x : undefined;
}

// ---- small pieces -----------------------------------------------------------

export function badge(status) {
  return h('span', { class: `badge ${status || ''}` }, status || '—');
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading' }, text);
}

export function card(title, ...children) {
  return h('section', { class: 'card' }, title ? h('h2', null, title) : null, ...children);
}

/** dl of [label, value] pairs; pairs with a null value are left out. */
export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => [h('dt', null, k), h('dd', null, v === '' ? h('span', { class: 'none' }, '—') : v)]));
}

export function stat(label, value) {
  return h('div', { class: 'stat' }, h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}

/** The head of a page: crumbs (links), a title (with extras) and actions. */
export function pageHead({ crumbs = [], title, extra = [], sub, actions = [] }) {
  return h('div', { class: 'page-head' },
    h('div', null,
      crumbs.length ? h('div', { class: 'crumbs' }, crumbs.flatMap((c, i) => [i ? ' / ' : null, c])) : null,
      h('h1', null, title, ...extra),
      sub ? h('div', { class: 'sub' }, sub) : null),
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

export function select(name, options, value, attrs = {}) {
  return h('select', { name, ...attrs }, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: v === value }, label);
  }));
}

export function field(label, control) {
  return h('label', null, label, control);
}

// ---- tables -----------------------------------------------------------------

/**
 * A table in a scrolling frame with a sticky header. columns:
 * [{label, num, cell(row) → node|string|number, title}]; a number from
 * cell is shown with num(). Returns the frame, whose addRows(rows) appends
 * rows later (paged lists).
 */
export function table({ columns, rows = [], foot = null, empty = 'Nothing to show.', frame = '', rowClass }) {
  const tbody = h('tbody');
  const emptyRow = h('tr', { class: 'empty' }, h('td', { colspan: columns.length, class: 'none' }, empty));
  const t = h('table', { class: 'data' },
    h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.num ? 'num' : null, title: c.title }, c.label)))),
    tbody);
  if (foot) {
    t.appendChild(h('tfoot', null, h('tr', null, columns.map((c) => {
      const v = foot(c);
      return h('td', { class: c.num ? 'num' : null }, typeof v === 'number' ? num(v, c.digits ?? 2) : v);
    }))));
  }
  const wrap = h('div', { class: `table-wrap ${frame}` }, t);
  wrap.addRows = (more) => {
    emptyRow.remove();
    for (const row of more) {
      tbody.appendChild(h('tr', { class: rowClass ? rowClass(row) : null },
        columns.map((c) => {
          const v = c.cell(row);
          return h('td', { class: [c.num ? 'num' : '', c.className || ''].join(' ').trim() || null },
            typeof v === 'number' ? num(v, c.digits ?? 2) : v);
        })));
    }
    if (!tbody.children.length) tbody.appendChild(emptyRow);
  };
  wrap.addRows(rows);
  wrap.table = t;
  return wrap;
}

// ---- runs -------------------------------------------------------------------

/** A progress bar of a run; el.update(run) redraws it in place. */
export function progressBar(run, { big = false } = {}) {
  const fill = h('div', { class: 'fill' });
  const text = h('span', { class: 'text' });
  const el = h('div', { class: `progress${big ? ' big' : ''}` }, h('div', { class: 'track' }, fill), text);
  el.update = (r) => {
    const p = r.progress || {};
    const total = p.positions_total || 0;
    const done = p.positions_done || 0;
    const frac = total > 0 ? Math.min(1, done / total) : (r.status === 'COMPLETED' || r.status === 'PUBLISHED' ? 1 : 0);
    el.className = `progress${big ? ' big' : ''} ${r.status}`;
    el.dataset.done = String(done);
    el.dataset.total = String(total);
    fill.style.width = `${(frac * 100).toFixed(1)}%`;
    const tasks = p.tasks_total ? ` · tasks ${fmtInt(p.tasks_by_status?.SUCCEEDED || 0)}/${fmtInt(p.tasks_total)}` : '';
    const dead = p.tasks_by_status?.DEAD ? ` · ${fmtInt(p.tasks_by_status.DEAD)} dead` : '';
    text.textContent = `${fmtInt(done)} / ${fmtInt(total)} positions${tasks}${dead}`;
  };
  el.update(run);
  return el;
}

// ---- problems ---------------------------------------------------------------

/** A readable box for an error: an RFC 9457 problem with its pointers. */
export function problemBox(err) {
  if (!(err instanceof ApiError)) {
    return h('div', { class: 'problem', role: 'alert' },
      h('div', { class: 'title' }, 'Something went wrong'),
      h('div', { class: 'detail' }, String(err?.message || err)));
  }
  const p = err.problem || {};
  const hints = [];
  if (err.status === 401) {
    hints.push(token()
      ? 'The token in use was refused. Enter a valid bearer token in the Token field above, or clear it.'
      : 'This platform requires a bearer token. Enter it in the Token field above.');
  } else if (err.status === 403) {
    hints.push('Your token does not allow this. Ask for a token with the needed role.');
  } else if (err.noRoute) {
    hints.push('This server does not serve that route. The dashboard calls /mkt, /orch and /results on the origin it was loaded from: open it through `iprs dev` or the load balancer.');
  } else if (err.status === 0) {
    hints.push('Is the platform running? Reload the page when it is back.');
  }
  const errors = Array.isArray(p.errors) ? p.errors : [];
  return h('div', { class: 'problem', role: 'alert', 'data-status': err.status },
    h('div', null,
      err.status ? h('span', { class: 'status' }, String(err.status)) : null,
      h('span', { class: 'title' }, p.title || 'Request failed')),
    p.detail ? h('div', { class: 'detail' }, p.detail) : null,
    errors.length ? h('ul', null, errors.slice(0, 50).map((e) => h('li', null,
      e.parameter ? h('span', { class: 'ptr' }, `?${e.parameter}`) : (e.pointer !== undefined ? h('span', { class: 'ptr' }, e.pointer || '(document)') : null),
      ' ', e.detail || ''))) : null,
    errors.length > 50 ? h('div', { class: 'hint' }, `… and ${fmtInt(errors.length - 50)} more`) : null,
    hints.map((t) => h('div', { class: 'hint' }, t)),
    p.request_id ? h('div', { class: 'rid' }, `request id ${p.request_id}`) : null);
}

// ---- charts -----------------------------------------------------------------

/**
 * Draws a chart at its container's width, and again when that changes.
 * draw(width) returns the SVG element.
 */
export function mountChart(container, draw) {
  let last = 0;
  const render = () => {
    const w = Math.max(320, Math.floor(container.clientWidth || 760));
    if (w === last) return;
    last = w;
    replace(container, draw(w));
  };
  render();
  if (typeof ResizeObserver === 'function') {
    let t = 0;
    new ResizeObserver(() => {
      clearTimeout(t);
      t = setTimeout(render, 80);
    }).observe(container);
  }
}

function truncate(text, max) {
  const t = String(text);
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/**
 * A horizontal bar chart. items: [{label, value, href, title}]; bars grow
 * from a zero line, negative ones to the left in their own colour; values
 * are printed in a right-aligned column.
 */
export function barChart(items, { width = 760, format = (v) => fmtNum(v), labelChars = 28 } = {}) {
  const rowH = 24;
  const top = 6;
  const longest = Math.max(4, ...items.map((it) => truncate(it.label, labelChars).length));
  const labelW = Math.min(240, 14 + longest * 6.6);
  const valueW = 118;
  const plotX = labelW + 8;
  const plotW = Math.max(60, width - plotX - valueW - 12);
  const values = items.map((it) => it.value);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const span = hi - lo || 1;
  const x = (v) => plotX + ((v - lo) / span) * plotW;
  const x0 = x(0);
  const height = top * 2 + items.length * rowH;
  const svg = s('svg', { class: 'chart bar-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  items.forEach((it, i) => {
    const y = top + i * rowH;
    const neg = it.value < 0;
    const bx = Math.min(x(it.value), x0);
    const bw = Math.max(1, Math.abs(x(it.value) - x0));
    const g = s('g', null,
      s('title', null, `${it.title || it.label}: ${format(it.value)}`),
      s('text', { class: 'label', x: labelW, y: y + rowH / 2 + 4, 'text-anchor': 'end' }, truncate(it.label, labelChars)),
      s('rect', { class: `bar${neg ? ' neg' : ''}`, x: bx.toFixed(1), y: y + 4, width: bw.toFixed(1), height: rowH - 8, rx: 2, 'data-key': it.label }),
      s('text', { class: `value${neg ? ' neg' : ''}`, x: width - 4, y: y + rowH / 2 + 4, 'text-anchor': 'end' }, format(it.value)));
    svg.appendChild(it.href ? s('a', { href: it.href }, g) : g);
  });
  svg.appendChild(s('line', { class: 'axis', x1: x0, x2: x0, y1: top - 2, y2: height - top + 2 }));
  return svg;
}

/** About n round tick values covering [lo, hi]. */
export function niceTicks(lo, hi, n = 5) {
  if (!(hi > lo)) {
    const d = Math.abs(lo) * 0.1 || 1;
    lo -= d;
    hi += d;
  }
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || 10 * mag;
  const ticks = [];
  for (let t = Math.floor(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < hi) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

/**
 * A line chart of series [{name, points: [{x, y, label}]}] on a square-root
 * x axis (tenors in years: the short end stays readable), with xTicks
 * [{x, label}] and y values formatted by yFormat.
 */
export function lineChart(series, { width = 760, height = 300, xTicks = [], yFormat = (v) => fmtNum(v) } = {}) {
  const m = { left: 64, right: 18, top: 14, bottom: 30 };
  const pts = series.flatMap((sr) => sr.points);
  const maxX = Math.max(1e-9, ...pts.map((p) => p.x), ...xTicks.map((t) => t.x));
  const ys = pts.map((p) => p.y);
  const ticks = niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const lo = ticks[0];
  const hi = ticks[ticks.length - 1];
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x) => m.left + (Math.sqrt(Math.max(0, x)) / Math.sqrt(maxX)) * pw;
  const sy = (y) => m.top + (1 - (y - lo) / (hi - lo || 1)) * ph;
  const svg = s('svg', { class: 'chart line-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  for (const t of ticks) {
    svg.appendChild(s('line', { class: 'grid', x1: m.left, x2: width - m.right, y1: sy(t), y2: sy(t) }));
    svg.appendChild(s('text', { x: m.left - 8, y: sy(t) + 4, 'text-anchor': 'end' }, yFormat(t)));
  }
  for (const t of xTicks) {
    svg.appendChild(s('line', { class: 'grid', x1: sx(t.x), x2: sx(t.x), y1: m.top, y2: height - m.bottom }));
    svg.appendChild(s('text', { x: sx(t.x), y: height - m.bottom + 16, 'text-anchor': 'middle' }, t.label));
  }
  svg.appendChild(s('line', { class: 'axis', x1: m.left, x2: width - m.right, y1: height - m.bottom, y2: height - m.bottom }));
  svg.appendChild(s('line', { class: 'axis', x1: m.left, x2: m.left, y1: m.top, y2: height - m.bottom }));
  series.forEach((sr, i) => {
    const c = `c-${i % 8}`;
    const sorted = [...sr.points].sort((a, b) => a.x - b.x);
    svg.appendChild(s('polyline', {
      class: `line ${c}`, 'data-series': sr.name,
      points: sorted.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' '),
    }));
    for (const p of sorted) {
      svg.appendChild(s('circle', { class: `dot ${c}`, cx: sx(p.x).toFixed(1), cy: sy(p.y).toFixed(1), r: 3 },
        s('title', null, `${sr.name} ${p.label}: ${yFormat(p.y)}`)));
    }
  });
  return svg;
}

/** The legend of a line chart's series, colour for colour. */
export function legend(names) {
  return h('div', { class: 'legend' }, names.map((n, i) => h('span', null, h('span', { class: `swatch sw-${i % 8}` }), n)));
}
