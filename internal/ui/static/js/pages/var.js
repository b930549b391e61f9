// VaR and expected shortfall of a run over one of its scenario sets, for
// the whole run or per group (the cube's groupings), as a table and as a
// chart with a VaR bar and an ES bar per group. The numbers are the
// results service's (GET /results/runs/{id}/var); the page computes none.

import { get, seg } from '../api.js';
import {
  card, field, fmtInt, fmtNum, h, loading, mountChart, num, pageHead, problemBox, replace, s, select, stat, table,
} from '../render.js';
import { DIMENSIONS, keyLabel, sampleAttributes } from './cube.js';

const CHART_GROUPS = 30;

/** The scenario set ids a run's request names ({"scenario_set_id": ID} items), in order. */
export function scenarioSets(run) {
  const items = run?.request?.scenarios;
  if (!Array.isArray(items)) return [];
  const ids = [];
  for (const it of items) {
    const id = it && typeof it === 'object' ? it.scenario_set_id : null;
    if (typeof id === 'string' && id && !ids.includes(id)) ids.push(id);
  }
  return ids;
}

/** The label of a VaR group: the whole run (key null) or the cube's key label. */
export function groupLabel(key) {
  return key === null || key === undefined ? 'Whole run' : keyLabel(key);
}

/**
 * A horizontal chart with two bars per group, VaR above ES, from a zero
 * line (a negative figure, a gain at that confidence, to the left in the
 * negative colour). rect.bar carries data-key (the group label),
 * data-measure ("var" or "es") and data-value (the exact number).
 */
export function varChart(items, { width = 760, labelChars = 28 } = {}) {
  const rowH = 34;
  const top = 6;
  const cut = (t) => (t.length > labelChars ? `${t.slice(0, labelChars - 1)}…` : t);
  const longest = Math.max(9, ...items.map((it) => cut(it.label).length));
  const labelW = Math.min(240, 14 + longest * 6.6);
  const valueW = 150;
  const plotX = labelW + 8;
  const plotW = Math.max(60, width - plotX - valueW - 12);
  const values = items.flatMap((it) => [it.var, it.es]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(0, ...values);
  const span = hi - lo || 1;
  const x = (v) => plotX + ((v - lo) / span) * plotW;
  const x0 = x(0);
  const height = top * 2 + items.length * rowH;
  const svg = s('svg', { class: 'chart var-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  items.forEach((it, i) => {
    const y = top + i * rowH;
    const g = s('g', null,
      s('title', null, `${it.label}: VaR ${fmtNum(it.var)} · ES ${fmtNum(it.es)}`),
      s('text', { class: 'label', x: labelW, y: y + rowH / 2 + 4, 'text-anchor': 'end' }, cut(it.label)));
    [['var', 'VaR', it.var, y + 5], ['es', 'ES', it.es, y + 18]].forEach(([m, name, v, by]) => {
      const neg = v < 0;
      g.appendChild(s('rect', {
        class: `bar ${m}${neg ? ' neg' : ''}`, x: Math.min(x(v), x0).toFixed(1), y: by, width: Math.max(1, Math.abs(x(v) - x0)).toFixed(1),
        height: 11, rx: 1.5, 'data-key': it.label, 'data-measure': m, 'data-value': String(v),
      }));
      g.appendChild(s('text', { class: `value${neg ? ' neg' : ''}`, x: width - 4, y: by + 9, 'text-anchor': 'end' }, `${name} ${fmtNum(v)}`));
    });
    svg.appendChild(g);
  });
  svg.appendChild(s('line', { class: 'axis', x1: x0, x2: x0, y1: top - 2, y2: height - top + 2 }));
  return svg;
}

export async function render(main, ctx) {
  const id = ctx.params[0];
  const q = ctx.query;
  const run = await get(`/orch/runs/${seg(id)}`, { signal: ctx.signal });
  document.title = `VaR · ${id} · IPRS`;
  const sets = scenarioSets(run);
  const head = (sub) => pageHead({
    crumbs: [h('a', { href: '#/runs' }, 'Runs'), h('a', { href: `#/runs/${seg(id)}`, class: 'mono' }, id)],
    title: 'VaR and expected shortfall',
    sub,
  });
  if (!sets.length) {
    replace(main, head(null), h('div', { class: 'notice', id: 'var-no-sets' },
      'This run names no scenario set: VaR and ES are taken over the P&L of a set\'s scenarios against BASE. ',
      'Submit a run with {"scenario_set_id": …} among its scenarios.'));
    return;
  }

  const set = q.get('scenario_set_id') || sets[0];
  const confidence = q.has('confidence') ? q.get('confidence') : '0.99';
  const by = q.get('by') || '';
  const isAttr = by.startsWith('attr:');
  const attr = isAttr ? by.slice(5) : '';

  // ---- the form ----
  const attrNames = await sampleAttributes((run.position_snapshot_ids || [])[0], ctx.signal);
  const dim = select('dim', [['', 'None (whole run)'], ...DIMENSIONS], isAttr ? 'attr' : by, { id: 'var-by' });
  const attrInput = h('input', { type: 'text', name: 'attr', value: attr, placeholder: 'e.g. state', list: 'var-attr-names', id: 'var-attr' });
  const attrField = field('Attribute', attrInput);
  const syncAttr = () => { attrField.hidden = dim.value !== 'attr'; };
  dim.addEventListener('change', syncAttr);
  syncAttr();
  const form = h('form', { class: 'filters', id: 'var-form' },
    // A set asked for in the address but not named by the run stays in the
    // form, so the problem the server answers matches what is shown.
    field('Scenario set', select('scenario_set_id', sets.includes(set) ? sets : [...sets, set], set, { id: 'var-set' })),
    field('Confidence', h('input', { type: 'text', name: 'confidence', value: confidence, inputmode: 'decimal', id: 'var-confidence', size: 6 })),
    field('Group by', dim),
    attrField,
    h('datalist', { id: 'var-attr-names' }, attrNames.map((n) => h('option', { value: n }))),
    h('button', { type: 'submit', class: 'primary', id: 'var-show' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const p = new URLSearchParams();
    p.set('scenario_set_id', d.get('scenario_set_id'));
    p.set('confidence', String(d.get('confidence') || '').trim());
    const dv = d.get('dim');
    if (dv) p.set('by', dv === 'attr' ? `attr:${String(d.get('attr') || '').trim()}` : dv);
    ctx.go(`#/runs/${seg(id)}/var?${p}`);
  });

  const body = h('div', { id: 'var-body' }, loading());
  replace(main, head(`over ${set} at ${confidence}${by ? ` by ${by}` : ''} · loss positive, P&L against BASE`), form, body);

  // ---- the data ----
  let items;
  try {
    items = await get(`/results/runs/${seg(id)}/var`, { query: { scenario_set_id: set, confidence, by }, signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    replace(body, problemBox(err));
    return;
  }

  const columns = [
    { label: by || 'Group', cell: (it) => h('span', { class: it.key === '' ? 'none' : null, 'data-key': groupLabel(it.key) }, groupLabel(it.key)) },
    { label: 'VaR', num: true, title: 'the loss not exceeded at the confidence', cell: (it) => num(it.var) },
    { label: 'ES', num: true, title: 'the mean loss in the tail beyond the VaR', cell: (it) => num(it.es) },
    { label: 'Scenarios', num: true, cell: (it) => num(it.scenario_count, 0) },
    { label: 'Worst scenario', cell: (it) => h('span', { class: 'mono' }, it.worst_scenario_id || '') },
  ];
  const tbl = table({ columns, rows: items, frame: '', empty: 'No group has results.' });
  tbl.id = 'var-table';

  const ranked = [...items].sort((a, b) => b.var - a.var);
  const shown = ranked.slice(0, CHART_GROUPS);
  const chartBox = h('div', { id: 'var-chart' });
  replace(body,
    h('div', { class: 'stats' },
      stat('Groups', fmtInt(items.length)),
      stat('Scenarios', fmtInt(items[0]?.scenario_count ?? 0)),
      stat('Confidence', confidence)),
    h('div', { class: 'grid-2 top' },
      card(null, tbl),
      card(null,
        h('div', { class: 'legend' }, h('span', null, h('span', { class: 'swatch sw-var' }), 'VaR'), h('span', null, h('span', { class: 'swatch sw-es' }), 'ES')),
        chartBox,
        items.length > shown.length
          ? h('div', { class: 'chart-note' }, `The ${shown.length} largest VaRs of ${fmtInt(items.length)} groups; the table has them all.`)
          : h('div', { class: 'chart-note' }, 'VaR and ES of each group\'s own P&L vector: they do not add up across groups.'))));
  if (shown.length) {
    mountChart(chartBox, (width) => varChart(shown.map((it) => ({ label: groupLabel(it.key), var: it.var, es: it.es })), { width }));
  } else {
    replace(chartBox, h('p', { class: 'none' }, 'Nothing to chart.'));
  }
}
