// One position snapshot: its metadata, a stratification of its loans by a
// chosen attribute (GET /orch/position-snapshots/{id}/strats?by=&bands=)
// and its positions as uploaded.

import { ApiError, get, page, seg } from '../api.js';
import {
  barChart, card, field, fmtInt, fmtNum, fmtTime, h, kv, loading, mountChart, num, pageHead, problemBox, replace, table,
} from '../render.js';

const PREFERRED = ['loan_program', 'state', 'fico', 'platform'];
// Groupings the route takes by name; any other name is an attribute,
// asked for as attr:NAME.
const DIMENSIONS = ['vintage', 'product_type', 'portfolio_node_id'];

function stratsTable(items) {
  const pct = (v, d) => (typeof v === 'number' ? `${fmtNum(v, d)}%` : h('span', { class: 'none' }, '—'));
  const opt = (v, d) => (typeof v === 'number' ? num(v, d) : h('span', { class: 'none' }, '—'));
  const columns = [
    { label: 'Group', cell: (r) => (r.key === '' ? h('span', { class: 'none' }, '(none)') : r.key) },
    { label: 'Loans', num: true, cell: (r) => num(r.count, 0) },
    { label: 'Balance', num: true, cell: (r) => num(r.balance) },
    { label: 'Balance %', num: true, cell: (r) => pct(r.balance_pct, 2) },
    { label: 'WAC', num: true, title: 'balance-weighted coupon', cell: (r) => (typeof r.wac === 'number' ? pct(r.wac * 100, 3) : opt(null)) },
    { label: 'FICO', num: true, title: 'balance-weighted, loans with a FICO only', cell: (r) => opt(r.fico, 0) },
    { label: 'WALA', num: true, title: 'balance-weighted loan age, months', cell: (r) => opt(r.wala, 1) },
    { label: 'WAM', num: true, title: 'balance-weighted remaining term, months', cell: (r) => opt(r.wam, 1) },
  ];
  let count = 0;
  let balance = 0;
  for (const r of items) {
    count += r.count || 0;
    balance += r.balance || 0;
  }
  const t = table({
    columns, rows: items, frame: 'free', empty: 'No loans in this snapshot.',
    foot: (c) => (c === columns[0] ? 'Total' : c === columns[1] ? num(count, 0) : c === columns[2] ? num(balance) : ''),
  });
  t.id = 'strats-table';
  return t;
}

async function showStrats(box, id, by, bands, signal) {
  replace(box, loading());
  let res;
  try {
    const grouping = !by || by.startsWith('attr:') || DIMENSIONS.includes(by) ? by : `attr:${by}`;
    res = await get(`/orch/position-snapshots/${seg(id)}/strats`, { query: { by: grouping, bands }, signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    if (err instanceof ApiError && err.status === 404) {
      replace(box, h('div', { class: 'notice', id: 'strats-unavailable' },
        'Stratification tables are not available from this server yet: ',
        h('span', { class: 'mono' }, `GET /orch/position-snapshots/{id}/strats`), ' answered 404',
        err.problem?.detail ? ` (${err.problem.detail}).` : '.'));
      return;
    }
    replace(box, problemBox(err));
    return;
  }
  const items = res.items || [];
  const chart = h('div', { id: 'strats-chart' });
  replace(box, h('div', { class: 'grid-2' }, stratsTable(items), chart));
  if (items.length) {
    mountChart(chart, (width) => barChart(items.map((r) => ({
      label: r.key === '' ? '(none)' : r.key, value: r.balance, title: `${r.key} · ${fmtInt(r.count)} loans`,
    })), { width }));
  }
}

export async function render(main, ctx) {
  const id = ctx.params[0];
  const q = ctx.query;
  document.title = `${id} · IPRS`;
  const meta = await get(`/orch/position-snapshots/${seg(id)}`, { signal: ctx.signal });
  const first = await page(`/orch/position-snapshots/${seg(id)}/positions`, { limit: 100, signal: ctx.signal });

  // Attribute columns: the scalar attributes most positions on the first page have.
  const counts = new Map();
  for (const p of first.items) {
    for (const [k, v] of Object.entries(p.attributes || {})) {
      if (v !== null && typeof v !== 'object') counts.set(k, (counts.get(k) || 0) + 1);
    }
  }
  const attrs = [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([k]) => k);
  const shownAttrs = attrs.slice(0, 8);

  const by = q.get('by') ?? PREFERRED.find((a) => attrs.includes(a)) ?? '';
  const bands = q.get('bands') || '';
  const stratForm = h('form', { class: 'filters', id: 'strats-form' },
    field('Stratify by attribute', h('input', { type: 'text', name: 'by', value: by, list: 'book-attrs', id: 'strats-by', required: true })),
    h('datalist', { id: 'book-attrs' }, attrs.map((a) => h('option', { value: a }))),
    field('Bands (numbers, increasing)', h('input', { type: 'text', name: 'bands', value: bands, placeholder: 'e.g. 620,680,740', id: 'strats-bands' })),
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  stratForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(stratForm);
    const p = new URLSearchParams({ by: String(d.get('by') || '').trim() });
    const b = String(d.get('bands') || '').replace(/\s+/g, '');
    if (b) p.set('bands', b);
    ctx.go(`#/books/${seg(id)}?${p}`);
  });
  const stratBox = h('div', { id: 'strats' });

  const positions = table({
    columns: [
      { label: 'Position', cell: (p) => h('span', { class: 'mono' }, p.position_id) },
      { label: 'Instrument', cell: (p) => h('span', { class: 'mono' }, p.instrument_id) },
      { label: 'Product', cell: (p) => p.product_type },
      { label: 'Quantity', num: true, cell: (p) => num(p.quantity ?? 1, 2) },
      ...shownAttrs.map((a) => ({
        label: a, num: first.items.every((p) => p.attributes?.[a] === undefined || typeof p.attributes[a] === 'number'),
        cell: (p) => {
          const v = p.attributes?.[a];
          if (v === undefined || v === null) return h('span', { class: 'none' }, '—');
          return typeof v === 'number' ? h('span', { class: v < 0 ? 'n neg' : 'n', 'data-value': String(v) }, String(v)) : String(v);
        },
      })),
    ],
    rows: first.items, empty: 'No positions.',
  });
  positions.id = 'book-positions';
  let next = first.next;
  const more = h('button', { type: 'button' }, 'Load more');
  const note = h('span', { class: 'muted' });
  const bar = h('div', { class: 'load-more' }, more, note);
  let loaded = first.items.length;
  const showNote = () => {
    note.textContent = `${fmtInt(loaded)} of ${fmtInt(meta.position_count)} positions`;
    more.hidden = !next;
  };
  showNote();
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const p = await page(`/orch/position-snapshots/${seg(id)}/positions`, { limit: 500, cursor: next, signal: ctx.signal });
      next = p.next;
      loaded += p.items.length;
      positions.addRows(p.items);
    } catch (err) {
      replace(note, problemBox(err));
    } finally {
      more.disabled = false;
      showNote();
    }
  });

  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/books' }, 'Position snapshots')],
      title: h('span', { class: 'mono' }, meta.position_snapshot_id),
      sub: `${meta.portfolio_node_id} · as of ${fmtTime(meta.as_of_time)} · ${fmtInt(meta.position_count)} positions`,
    }),
    card('Snapshot', kv([
      ['Portfolio node', meta.portfolio_node_id],
      ['As of', fmtTime(meta.as_of_time)],
      ['Positions', fmtInt(meta.position_count)],
      ['Product types', (meta.product_types || []).join(', ')],
      ['Payload hash', h('span', { class: 'mono small' }, meta.payload_hash)],
      ['Stored', fmtTime(meta.created_at)],
    ])),
    h('section', { class: 'card' }, h('h2', null, 'Stratification', h('span', { class: 'note' }, 'loans only · balance-weighted averages')), stratForm, stratBox),
    card('Positions', positions, bar));

  if (by) await showStrats(stratBox, id, by, bands, ctx.signal);
  else replace(stratBox, h('p', { class: 'none' }, 'Choose an attribute.'));
}
