// One position of a run under every scenario, with its P&L against BASE.

import { get, seg } from '../api.js';
import { card, h, kv, measureValue, num, pageHead, replace, table } from '../render.js';
import { scenarioOrder } from './run.js';

export async function render(main, ctx) {
  const [id, pid] = ctx.params;
  document.title = `${pid} · ${id} · IPRS`;
  const [run, res] = await Promise.all([
    get(`/orch/runs/${seg(id)}`, { signal: ctx.signal }),
    get(`/results/runs/${seg(id)}/positions/${seg(pid)}`, { signal: ctx.signal }),
  ]);
  const rows = res.items || [];
  const first = rows[0] || {};
  const bySnapshot = new Map();
  for (const r of rows) {
    if (!bySnapshot.has(r.position_snapshot_id)) bySnapshot.set(r.position_snapshot_id, []);
    bySnapshot.get(r.position_snapshot_id).push(r);
  }
  const measures = [...run.measures];
  for (const r of rows) for (const m of Object.keys(r.measures || {})) if (!measures.includes(m)) measures.push(m);
  const order = scenarioOrder(run, null);

  const sections = [...bySnapshot.entries()].map(([ps, list]) => {
    const byScenario = new Map(list.map((r) => [r.scenario_id, r]));
    const base = byScenario.get('BASE')?.measures?.PV;
    const ids = order.filter((s) => byScenario.has(s));
    const columns = [
      { label: 'Scenario', cell: (s) => s },
      ...measures.map((m) => ({ label: m, num: true, cell: (s) => measureValue(byScenario.get(s).measures?.[m]) })),
    ];
    if (typeof base === 'number') {
      columns.push({
        label: 'P&L vs BASE', num: true, title: 'PV(scenario) − PV(BASE)',
        cell: (s) => {
          const pv = byScenario.get(s).measures?.PV;
          return typeof pv === 'number' ? num(pv - base) : '';
        },
      });
    }
    const t = table({ columns, rows: ids, frame: 'free' });
    t.classList.add('position-table');
    return card(bySnapshot.size > 1 ? `In snapshot ${ps}` : 'Results by scenario', t);
  });

  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/runs' }, 'Runs'), h('a', { href: `#/runs/${seg(id)}`, class: 'mono' }, id)],
      title: h('span', { class: 'mono' }, pid),
      sub: `${first.product_type || ''} · instrument ${first.instrument_id || '—'}`,
    }),
    card('Position', kv([
      ['Instrument', h('span', { class: 'mono' }, first.instrument_id || '')],
      ['Product', first.product_type || ''],
      ['Portfolio node', first.portfolio_node_id || ''],
      ['Position snapshot', [...bySnapshot.keys()].flatMap((ps, i) => [i ? ', ' : null, h('a', { href: `#/books/${seg(ps)}`, class: 'mono' }, ps)])],
    ])),
    ...sections);
}
