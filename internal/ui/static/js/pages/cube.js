// The cube of a run: one measure summed by a grouping (product type,
// portfolio node, instrument or a position attribute, optionally in numeric
// bands) under one scenario, as a table with shares of the total and as a
// bar chart. A group opens its positions.

import { get, page, seg } from '../api.js';
import {
  barChart, card, field, fmtInt, fmtNum, h, leafAt, leaves, loading, measureValue, mountChart, num, pageHead,
  problemBox, replace, select, stat, table,
} from '../render.js';

export const DIMENSIONS = [
  ['product_type', 'Product type'],
  ['portfolio_node_id', 'Portfolio node'],
  ['instrument_id', 'Instrument'],
  ['attr', 'Attribute…'],
];

const CHART_BARS = 30;

/** Attribute names of the first positions of a snapshot, for suggestions. */
export async function sampleAttributes(snapshotID, signal) {
  if (!snapshotID) return [];
  try {
    const p = await page(`/orch/position-snapshots/${seg(snapshotID)}/positions`, { limit: 200, signal });
    const names = new Map();
    for (const pos of p.items) {
      for (const [k, v] of Object.entries(pos.attributes || {})) {
        if (v === null || typeof v === 'object') continue;
        names.set(k, (names.get(k) || 0) + 1);
      }
    }
    return [...names.keys()].sort();
  } catch {
    return [];
  }
}

/** The label of a group key ('' is a position without a value). */
export function keyLabel(key) {
  return key === '' ? '(none)' : key;
}

export async function render(main, ctx) {
  const id = ctx.params[0];
  const q = ctx.query;
  const run = await get(`/orch/runs/${seg(id)}`, { signal: ctx.signal });
  document.title = `Cube · ${id} · IPRS`;

  const measure = q.get('measure') || (run.measures.includes('PV') ? 'PV' : run.measures[0]);
  const scenario = q.get('scenario') || (run.scenarios.includes('BASE') ? 'BASE' : run.scenarios[0]);
  const by = q.get('by') || 'product_type';
  const isAttr = by.startsWith('attr:');
  const attr = isAttr ? by.slice(5) : '';
  const bands = (q.get('bands') || '').trim();
  const sortBy = q.get('sort') || (bands ? 'key' : 'value');

  // ---- the form ----
  const attrNames = await sampleAttributes((run.position_snapshot_ids || [])[0], ctx.signal);
  const attrInput = h('input', { type: 'text', name: 'attr', value: attr, placeholder: 'e.g. fico', list: 'attr-names', id: 'cube-attr' });
  const bandsInput = h('input', { type: 'text', name: 'bands', value: bands, placeholder: 'e.g. 620,680,740', id: 'cube-bands' });
  const dim = select('dim', DIMENSIONS, isAttr ? 'attr' : by, { id: 'cube-by' });
  const attrField = field('Attribute', attrInput);
  const bandsField = field('Bands (numbers, increasing)', bandsInput);
  const syncAttr = () => {
    const on = dim.value === 'attr';
    attrField.hidden = !on;
    bandsField.hidden = !on;
  };
  dim.addEventListener('change', syncAttr);
  syncAttr();
  const form = h('form', { class: 'filters', id: 'cube-form' },
    field('Measure', select('measure', run.measures, measure, { id: 'cube-measure' })),
    field('Group by', dim),
    attrField,
    h('datalist', { id: 'attr-names' }, attrNames.map((n) => h('option', { value: n }))),
    bandsField,
    field('Scenario', select('scenario', run.scenarios, scenario, { id: 'cube-scenario' })),
    field('Sort', select('sort', [['value', 'By value'], ['key', 'By group']], sortBy)),
    h('button', { type: 'submit', class: 'primary' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const p = new URLSearchParams();
    p.set('measure', d.get('measure'));
    const a = String(d.get('attr') || '').trim();
    p.set('by', d.get('dim') === 'attr' ? `attr:${a}` : d.get('dim'));
    p.set('scenario', d.get('scenario'));
    const b = String(d.get('bands') || '').replace(/\s+/g, '');
    if (d.get('dim') === 'attr' && b) p.set('bands', b);
    p.set('sort', d.get('sort'));
    ctx.go(`#/runs/${seg(id)}/cube?${p}`);
  });

  const body = h('div', null, loading());
  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/runs' }, 'Runs'), h('a', { href: `#/runs/${seg(id)}`, class: 'mono' }, id)],
      title: 'Cube',
      sub: `${measure} by ${by}${bands ? ` in bands ${bands}` : ''} under ${scenario}`,
    }),
    form, body);

  // ---- the data ----
  const query = { measure, by, scenario, bands };
  let cells;
  let summary;
  try {
    [cells, summary] = await Promise.all([
      get(`/results/runs/${seg(id)}/cube`, { query, signal: ctx.signal }),
      get(`/results/runs/${seg(id)}/summary`, { signal: ctx.signal }).catch(() => null),
    ]);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    replace(body, problemBox(err));
    return;
  }

  // A measure whose values are objects (FX_DELTA per currency, KR01 per
  // curve and tenor) is shown one component at a time.
  const comps = [];
  for (const c of cells) {
    for (const [path, label] of leaves(c.value)) if (!comps.some((x) => x[0] === path)) comps.push([path, label]);
  }
  const objectValued = cells.some((c) => typeof c.value !== 'number');
  const comp = objectValued ? (q.get('comp') && comps.some((x) => x[0] === q.get('comp')) ? q.get('comp') : comps[0]?.[0] ?? '') : '';
  const valueOf = (c) => leafAt(c.value, comp);
  const exactTotal = summary ? leafAt(summary.scenarios?.[scenario]?.measures?.[measure], comp) : undefined;
  let approxTotal = 0;
  for (const c of cells) approxTotal += valueOf(c) ?? 0;
  const total = exactTotal ?? approxTotal;
  const positions = cells.reduce((n, c) => n + c.count, 0);

  const sorted = [...cells];
  if (sortBy === 'value') sorted.sort((a, b) => (valueOf(b) ?? -Infinity) - (valueOf(a) ?? -Infinity));
  const groupHref = (c) => {
    const p = new URLSearchParams({ by, key: c.key, scenario, measure, count: String(c.count) });
    if (bands) p.set('bands', bands);
    return `#/runs/${seg(id)}/group?${p}`;
  };

  const columns = [
    { label: by, cell: (c) => h('a', { href: groupHref(c), class: c.key === '' ? 'none' : null, 'data-key': c.key }, keyLabel(c.key)) },
    { label: objectValued ? `${measure} · ${comps.find((x) => x[0] === comp)?.[1] || ''}` : measure, num: true, cell: (c) => num(valueOf(c)) },
    { label: 'Share', num: true, cell: (c) => (total && valueOf(c) !== undefined ? `${fmtNum((valueOf(c) / total) * 100, 1)}%` : '—') },
    { label: 'Positions', num: true, cell: (c) => num(c.count, 0) },
  ];
  if (objectValued) columns.push({ label: `${measure} (all)`, num: true, cell: (c) => measureValue(c.value) });
  const tbl = table({
    columns, rows: sorted, frame: '',
    empty: 'No position has this measure under this scenario.',
    foot: (c) => {
      if (c === columns[0]) return exactTotal !== undefined ? 'Total (summary)' : 'Total';
      if (c === columns[1]) return num(total);
      if (c === columns[2]) return total ? '100.0%' : '';
      if (c === columns[3]) return num(positions, 0);
      return '';
    },
  });
  tbl.id = 'cube-table';

  const chartBox = h('div', { id: 'cube-chart' });
  const chartItems = sorted.filter((c) => valueOf(c) !== undefined);
  const top = sortBy === 'value'
    ? [...chartItems].sort((a, b) => Math.abs(valueOf(b)) - Math.abs(valueOf(a))).slice(0, CHART_BARS)
      .sort((a, b) => valueOf(b) - valueOf(a))
    : chartItems.slice(0, CHART_BARS);
  const compSelect = objectValued ? h('form', { class: 'filters no-print', id: 'cube-comp' },
    field('Component', select('comp', comps.map(([p, l]) => [p, l]), comp))) : null;
  compSelect?.addEventListener('change', () => {
    const p = new URLSearchParams(ctx.query);
    p.set('comp', new FormData(compSelect).get('comp'));
    ctx.go(`#/runs/${seg(id)}/cube?${p}`);
  });

  replace(body,
    h('div', { class: 'stats' },
      stat('Groups', fmtInt(cells.length)),
      stat('Positions', fmtInt(positions)),
      stat(`Total ${measure}`, num(total))),
    compSelect,
    h('div', { class: 'grid-2 top' },
      card(null, tbl),
      card(null, chartBox,
        chartItems.length > top.length
          ? h('div', { class: 'chart-note' }, `The ${top.length} largest of ${fmtInt(chartItems.length)} groups by size; the table has them all.`)
          : null)));
  if (top.length) {
    mountChart(chartBox, (width) => barChart(top.map((c) => ({
      label: keyLabel(c.key), value: valueOf(c), href: groupHref(c),
      title: `${keyLabel(c.key)} (${fmtInt(c.count)} positions)`,
    })), { width }));
  } else {
    replace(chartBox, h('p', { class: 'none' }, 'Nothing to chart.'));
  }
}
