// One P&L explain: its status and live progress while its tasks value,
// then its waterfall — a table of every group of a cube grouping (or the
// whole explain) and the waterfall chart of the whole or of one group.
// The numbers are the results service's (GET /results/explains/{id}).

import { finalStatus, get, poll, seg } from '../api.js';
import {
  badge, card, field, fmtDuration, fmtTime, h, kv, loading, mountChart, num, pageHead, problemBox, progressBar,
  replace, select, table,
} from '../render.js';
import { keyLabel } from './cube.js';
import { compareHref } from './compare.js';
import { STEPS, waterfallChart } from '../views/waterfall.js';

/** The groupings of the waterfall: the cube's, and none (the whole explain). */
export const GROUPINGS = [
  ['', 'Whole explain'],
  ['product_type', 'Product type'],
  ['portfolio_node_id', 'Portfolio node'],
  ['instrument_id', 'Instrument'],
  ['vintage', 'Vintage'],
  ['attr', 'Attribute…'],
];

/** The columns of the waterfall table, in the order of the waterfall. */
export const COLUMNS = [
  ['from_pv', 'From PV'], ...STEPS, ['total', 'Total'], ['to_pv', 'To PV'], ['carry_cashflows', 'Carry cashflows'],
];

const runLink = (id) => h('a', { href: `#/runs/${seg(id)}`, class: 'mono' }, id);

function times(x) {
  return kv([
    ['Requested', fmtTime(x.requested_at)],
    ['Started', fmtTime(x.started_at)],
    ['Completed', fmtTime(x.completed_at)],
    ['Took', fmtDuration(x.started_at, x.completed_at) || (x.started_at ? 'running' : '')],
  ]);
}

function waterfallTable(items, by) {
  const t = table({
    columns: [
      ...(by ? [{ label: by, cell: (it) => h('span', { class: 'mono' }, it.key === null ? '—' : keyLabel(it.key)) }] : []),
      ...COLUMNS.map(([k, label]) => ({
        label, num: true, cell: (it) => num(it[k]),
        title: k === 'total' ? 'the sum of the seven steps = to PV − from PV + carry cashflows' : undefined,
      })),
    ],
    rows: items,
    frame: 'free',
    empty: 'No positions in this explain.',
  });
  t.id = 'explain-table';
  return t;
}

export async function render(main, ctx) {
  const id = ctx.params[0];
  const q = ctx.query;
  const by = q.get('by') || '';
  const bands = (q.get('bands') || '').trim();
  const isAttr = by.startsWith('attr:');
  document.title = `${id} · P&L explain · IPRS`;
  let x = await get(`/orch/explains/${seg(id)}`, { signal: ctx.signal });

  const statusEl = h('span', { id: 'explain-status' }, badge(x.status));
  const bar = progressBar(x, { big: true });
  bar.id = 'explain-progress';
  const timesEl = h('div', null, times(x));
  const errorEl = h('div');
  const showError = () => replace(errorEl, x.error ? h('div', { class: 'problem', id: 'explain-error' },
    h('div', { class: 'title' }, `Explain ${x.status.toLowerCase()}`), h('div', { class: 'detail' }, x.error)) : null);
  showError();

  // ---- the grouping form ----
  const dim = select('dim', GROUPINGS, isAttr ? 'attr' : by, { id: 'explain-by' });
  const attrInput = h('input', { type: 'text', name: 'attr', value: isAttr ? by.slice(5) : '', placeholder: 'e.g. state', id: 'explain-attr' });
  const bandsInput = h('input', { type: 'text', name: 'bands', value: bands, placeholder: 'e.g. 620,680,740', id: 'explain-bands' });
  const attrField = field('Attribute', attrInput);
  const bandsField = field('Bands (numbers, increasing)', bandsInput);
  const syncAttr = () => {
    attrField.hidden = dim.value !== 'attr';
    bandsField.hidden = dim.value !== 'attr';
  };
  dim.addEventListener('change', syncAttr);
  syncAttr();
  const form = h('form', { class: 'filters no-print', id: 'explain-form' },
    field('Group by', dim), attrField, bandsField,
    h('button', { type: 'submit', class: 'primary', id: 'explain-show' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const p = new URLSearchParams();
    const v = dim.value === 'attr' ? (attrInput.value.trim() ? `attr:${attrInput.value.trim()}` : '') : dim.value;
    if (v) p.set('by', v);
    if (v.startsWith('attr:') && bandsInput.value.trim()) p.set('bands', bandsInput.value.trim());
    ctx.go(`#/explains/${seg(id)}${p.toString() ? `?${p}` : ''}`);
  });

  const body = h('div', { id: 'explain-body' });
  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/explains' }, 'P&L explains')],
      title: h('span', { class: 'mono' }, x.explain_id),
      extra: [statusEl],
      sub: h('span', null, runLink(x.from_run_id), ' → ', runLink(x.to_run_id), ` · as of ${fmtTime(x.as_of_time)}`),
      actions: [h('a', { class: 'button', href: compareHref(x.from_run_id, x.to_run_id), id: 'explain-compare' }, 'Compare positions')],
    }),
    errorEl,
    card('Progress', bar, timesEl),
    body);

  const loadWaterfall = async () => {
    if (x.status !== 'COMPLETED') {
      replace(body, h('div', { class: 'notice', id: 'explain-waiting' },
        finalStatus(x.status) ? `The explain ended ${x.status}: it has no waterfall.` : 'The waterfall is shown when the explain completes.'));
      return;
    }
    replace(body, loading());
    let items;
    let whole;
    try {
      const path = `/results/explains/${seg(id)}`;
      [items, whole] = await Promise.all([
        get(path, { query: { by, bands }, signal: ctx.signal }).then((r) => r.items || []),
        by ? get(path, { signal: ctx.signal }).then((r) => r.items || []) : null,
      ]);
      whole = whole || items;
    } catch (err) {
      if (err.name === 'AbortError') throw err;
      replace(body, form, problemBox(err));
      return;
    }
    // The chart: the whole explain, or the group the analyst picks.
    const groups = by ? items : [];
    const picker = select('chart', [['', 'Whole explain'], ...groups.map((it, i) => [String(i), keyLabel(it.key ?? '')])], '', { id: 'explain-chart-group' });
    const chartBox = h('div', { class: 'chart-box', id: 'explain-chart' });
    const draw = () => {
      const it = picker.value === '' ? whole[0] : groups[Number(picker.value)];
      chartBox.dataset.group = picker.value === '' ? '' : (it.key ?? '');
      if (!it) {
        replace(chartBox, h('p', { class: 'none' }, 'No positions in this explain.'));
        return;
      }
      mountChart(chartBox, (width) => waterfallChart(it, { width }));
    };
    picker.addEventListener('change', draw);
    replace(body,
      h('section', { class: 'card', id: 'explain-waterfall' },
        h('h2', null, 'Waterfall', h('span', { class: 'note' }, 'from PV + the seven steps = to PV + the carry cashflows, up to rounding')),
        groups.length ? h('form', { class: 'filters no-print' }, field('Chart of', picker)) : null,
        chartBox),
      h('section', { class: 'card', id: 'explain-groups' },
        h('h2', null, by ? `By ${by}` : 'The whole explain', h('span', { class: 'note' }, 'exact sums over each group\'s positions')),
        form, waterfallTable(items, by)));
    draw();
  };
  await loadWaterfall();
  if (finalStatus(x.status)) return;
  poll(async () => {
    x = await get(`/orch/explains/${seg(id)}`, { signal: ctx.signal });
    replace(statusEl, badge(x.status));
    bar.update(x);
    replace(timesEl, times(x));
    showError();
    if (finalStatus(x.status)) await loadWaterfall();
    return finalStatus(x.status);
  }, 1000, ctx.signal);
}
