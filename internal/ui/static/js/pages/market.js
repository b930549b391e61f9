// One market snapshot: its data-quality issues, its zero curves plotted by
// tenor (one chart per curve type) with their nodes, and its FX spots.

import { get, seg } from '../api.js';
import {
  badge, card, fmtInt, fmtNum, fmtRate, fmtTime, h, kv, legend, lineChart, mountChart, pageHead, replace, table,
} from '../render.js';

/** A tenor as a year fraction (SPEC: ON = 1/365, nD = n/365, nW = n/52, nM = n/12, nY = n); NaN when it does not parse. */
export function tenorYears(tenor) {
  if (tenor === 'ON') return 1 / 365;
  const m = /^(\d+)([DWMY])$/.exec(tenor || '');
  if (!m) return NaN;
  const n = Number(m[1]);
  return { D: n / 365, W: n / 52, M: n / 12, Y: n }[m[2]];
}

const TICKS = [['1M', 1 / 12], ['3M', 0.25], ['1Y', 1], ['2Y', 2], ['5Y', 5], ['10Y', 10], ['20Y', 20], ['30Y', 30]];

function issuesTable(issues) {
  const t = table({
    columns: [
      { label: 'Severity', cell: (i) => badge(i.severity) },
      { label: 'Code', cell: (i) => h('span', { class: 'mono' }, i.code) },
      { label: 'Where', cell: (i) => h('span', { class: 'mono small' }, i.pointer || '') },
      { label: 'Detail', className: 'wrap', cell: (i) => i.detail || '' },
      { label: 'Source', cell: (i) => i.source || '' },
    ],
    rows: issues, frame: 'short', empty: 'No data-quality issues.',
  });
  t.id = 'issues-table';
  return t;
}

function curveSection(type, curves) {
  const series = curves.map((c) => ({
    name: c.curve_id,
    points: (c.nodes || []).map((n) => ({ x: tenorYears(n.tenor), y: n.zero_rate, label: n.tenor }))
      .filter((p) => Number.isFinite(p.x) && typeof p.y === 'number' && Number.isFinite(p.y)),
  })).filter((sr) => sr.points.length);
  const maxX = Math.max(0, ...series.flatMap((sr) => sr.points.map((p) => p.x)));
  const ticks = TICKS.filter(([, x]) => x <= maxX * 1.05).map(([label, x]) => ({ x, label }));
  const box = h('div', { class: 'curve-chart', 'data-type': type });
  const el = card(null, h('h2', null, `${type} curves`, h('span', { class: 'note' }, 'zero rates by tenor')),
    legend(series.map((sr) => sr.name)), box);
  if (series.length) {
    queueMicrotask(() => mountChart(box, (width) => lineChart(series, {
      width, height: 260, xTicks: ticks, yFormat: (v) => fmtRate(v, 2),
    })));
  } else {
    box.appendChild(h('p', { class: 'none' }, 'No plottable nodes.'));
  }
  return el;
}

function nodesTable(curves) {
  const tenors = [];
  for (const c of curves) {
    for (const n of c.nodes || []) if (!tenors.includes(n.tenor)) tenors.push(n.tenor);
  }
  tenors.sort((a, b) => (tenorYears(a) || Infinity) - (tenorYears(b) || Infinity));
  const t = table({
    columns: [
      { label: 'Tenor', cell: (t) => t },
      ...curves.map((c) => ({
        label: c.curve_id, num: true,
        cell: (t) => {
          const n = (c.nodes || []).find((x) => x.tenor === t);
          return n && typeof n.zero_rate === 'number'
            ? h('span', { class: n.zero_rate < 0 ? 'n neg' : 'n', 'data-value': String(n.zero_rate) }, fmtRate(n.zero_rate, 3))
            : h('span', { class: 'none' }, '—');
        },
      })),
    ],
    rows: tenors, frame: 'short',
  });
  t.id = 'nodes-table';
  return t;
}

export async function render(main, ctx) {
  const id = ctx.params[0];
  document.title = `${id} · IPRS`;
  const snap = await get(`/mkt/snapshots/${seg(id)}`, { signal: ctx.signal });
  const curves = snap.curves || [];
  const spots = snap.fx_spots || [];
  const byType = new Map();
  for (const c of curves) {
    const type = c.curve_type || 'OTHER';
    if (!byType.has(type)) byType.set(type, []);
    byType.get(type).push(c);
  }
  const spotsTable = table({
    columns: [
      { label: 'Pair', cell: (x) => h('span', { class: 'mono' }, x.pair) },
      { label: 'Spot', num: true, cell: (x) => (typeof x.spot === 'number' ? h('span', { class: 'n', 'data-value': String(x.spot) }, fmtNum(x.spot, 6)) : h('span', { class: 'none' }, '—')) },
      { label: 'Time', cell: (x) => (x.ts ? fmtTime(x.ts) : '') },
    ],
    rows: spots, frame: 'short', empty: 'No FX spots.',
  });
  spotsTable.id = 'spots-table';
  const issues = snap.issues || [];

  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/market' }, 'Market data')],
      title: h('span', { class: 'mono' }, snap.snapshot_id),
      extra: [badge(snap.dq_status)],
      sub: `as of ${fmtTime(snap.as_of_time)} · ${fmtInt(curves.length)} curves · ${fmtInt(spots.length)} FX spots`,
    }),
    h('div', { class: 'grid-2' },
      card('Snapshot', kv([
        ['As of', fmtTime(snap.as_of_time)],
        ['Vendor', snap.vendor || ''],
        ['Universe', snap.universe_id || ''],
        ['Data quality', badge(snap.dq_status)],
        ['Payload hash', h('span', { class: 'mono small' }, snap.payload_hash || '')],
        ['Stored', fmtTime(snap.created_at)],
      ])),
      h('section', { class: 'card', id: 'issues' }, h('h2', null, 'Data quality', h('span', { class: 'note' }, `${fmtInt(issues.length)} ${issues.length === 1 ? 'issue' : 'issues'}`)), issuesTable(issues))),
    ...[...byType.entries()].map(([type, list]) => curveSection(type, list)),
    h('div', { class: 'grid-2' },
      card('Curve nodes', nodesTable(curves)),
      card('FX spots', spotsTable)));
}
