// The positions of one cube group. The results API lists a run's positions
// (GET /results/runs/{id}/positions); this page reads those pages and keeps
// the group's. For an attribute grouping, whose value the result rows do
// not carry, it reads the run's position snapshots
// (GET /orch/position-snapshots/{id}/positions) and then each matching
// position's results (GET /results/runs/{id}/positions/{position_id}).

import { get, mapLimit, page, seg } from '../api.js';
import { fmtInt, h, loading, measureValue, pageHead, problemBox, replace, table } from '../render.js';
import { keyLabel } from './cube.js';

const BATCH = 100;

/** Parses a band key ("<620", "620–680", "≥780") into a test of a number; null for other keys. */
export function bandTest(key) {
  let m = /^<(.+)$/.exec(key);
  if (m && Number.isFinite(Number(m[1]))) return (v) => v < Number(m[1]);
  m = /^≥(.+)$/.exec(key);
  if (m && Number.isFinite(Number(m[1]))) return (v) => v >= Number(m[1]);
  m = /^(.+?)–(.+)$/.exec(key);
  if (m && Number.isFinite(Number(m[1])) && Number.isFinite(Number(m[2]))) {
    const lo = Number(m[1]);
    const hi = Number(m[2]);
    return (v) => v >= lo && v < hi;
  }
  return null;
}

/**
 * Whether a position's attribute falls in the cube group key: the cube
 * keys a string attribute by its text, any other value by its JSON, and a
 * position without it (or, with bands, without a number) as '' or 'n/a'.
 */
export function attrMatches(attributes, name, key, banded) {
  const v = attributes?.[name];
  const noValue = key === '' || key === 'n/a';
  if (banded) {
    if (typeof v !== 'number') return noValue;
    const test = bandTest(key);
    return test ? test(v) : false;
  }
  if (v === undefined || v === null) return noValue;
  if (typeof v === 'string') return v === key;
  return JSON.stringify(v) === key || String(v) === key;
}

export async function render(main, ctx) {
  const id = ctx.params[0];
  const q = ctx.query;
  const by = q.get('by') || 'product_type';
  const key = q.get('key') ?? '';
  const scenario = q.get('scenario') || 'BASE';
  const bands = q.get('bands') || '';
  const expected = Number(q.get('count') || NaN);
  const attr = by.startsWith('attr:') ? by.slice(5) : '';
  document.title = `${keyLabel(key)} · ${id} · IPRS`;

  const run = await get(`/orch/runs/${seg(id)}`, { signal: ctx.signal });
  const measures = run.measures;
  const columns = [
    { label: 'Position', cell: (r) => h('a', { href: `#/runs/${seg(id)}/positions/${seg(r.position_id)}`, class: 'mono' }, r.position_id) },
    { label: 'Instrument', cell: (r) => h('span', { class: 'mono' }, r.instrument_id) },
    { label: 'Product', cell: (r) => r.product_type },
    { label: 'Node', cell: (r) => r.portfolio_node_id },
    ...(attr ? [{ label: attr, num: true, cell: (r) => (r.attr === undefined ? h('span', { class: 'none' }, '—') : String(r.attr)) }] : []),
    ...measures.map((m) => ({ label: m, num: true, cell: (r) => measureValue(r.measures?.[m]) })),
  ];
  const list = table({ columns, empty: 'No positions found yet.' });
  list.id = 'group-table';
  const status = h('span', { id: 'group-status' });
  const more = h('button', { type: 'button', id: 'group-more' }, `Show ${BATCH} more`);
  const errors = h('div');
  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/runs' }, 'Runs'), h('a', { href: `#/runs/${seg(id)}`, class: 'mono' }, id),
        h('a', { href: `#/runs/${seg(id)}/cube?${new URLSearchParams({ by, scenario, ...(bands ? { bands } : {}), measure: q.get('measure') || 'PV' })}` }, 'Cube')],
      title: `${by} = ${keyLabel(key)}`,
      sub: `Positions of the group under ${scenario}${Number.isFinite(expected) ? ` · ${fmtInt(expected)} in the cube` : ''}`,
    }),
    errors, list, h('div', { class: 'load-more' }, more, status));

  let shown = 0;
  let scanned = 0;
  let done = false;
  const setStatus = () => {
    const of = Number.isFinite(expected) ? ` of ${fmtInt(expected)}` : '';
    status.textContent = `${fmtInt(shown)}${of} positions shown · ${fmtInt(scanned)} ${attr ? 'positions' : 'result rows'} read${done ? ' · all read' : ''}`;
    more.hidden = done || (Number.isFinite(expected) && shown >= expected);
  };

  // A generator of the group's rows, BATCH at a time.
  async function* fromResults() {
    let cursor = '';
    do {
      const p = await page(`/results/runs/${seg(id)}/positions`, { query: { scenario }, limit: 1000, cursor, signal: ctx.signal });
      cursor = p.next;
      scanned += p.items.length;
      const hit = p.items.filter((r) => String(r[by] ?? '') === key);
      for (let i = 0; i < hit.length; i += BATCH) yield hit.slice(i, i + BATCH);
      if (!hit.length) yield [];
    } while (cursor);
  }
  async function* fromSnapshots() {
    for (const ps of run.position_snapshot_ids || []) {
      let cursor = '';
      do {
        const p = await page(`/orch/position-snapshots/${seg(ps)}/positions`, { limit: 1000, cursor, signal: ctx.signal });
        cursor = p.next;
        scanned += p.items.length;
        const hit = p.items.filter((pos) => attrMatches(pos.attributes, attr, key, !!bands));
        for (let i = 0; i < hit.length; i += BATCH) {
          const chunk = hit.slice(i, i + BATCH);
          const rows = await mapLimit(chunk, 6, async (pos) => {
            const res = await get(`/results/runs/${seg(id)}/positions/${seg(pos.position_id)}`, { signal: ctx.signal });
            const row = (res.items || []).find((r) => r.scenario_id === scenario && r.position_snapshot_id === ps)
              || (res.items || []).find((r) => r.scenario_id === scenario);
            return row ? { ...row, attr: pos.attributes?.[attr] } : null;
          });
          yield rows.filter(Boolean);
        }
        if (!hit.length) yield [];
      } while (cursor);
    }
  }
  const source = attr ? fromSnapshots() : fromResults();

  const fill = async () => {
    more.disabled = true;
    let got = 0;
    try {
      while (got < BATCH) {
        const r = await source.next();
        if (r.done) {
          done = true;
          break;
        }
        list.addRows(r.value);
        got += r.value.length;
        shown += r.value.length;
        setStatus();
        if (Number.isFinite(expected) && shown >= expected) break;
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(errors, problemBox(err));
    } finally {
      more.disabled = false;
      setStatus();
    }
  };
  more.addEventListener('click', fill);
  replace(status, loading('Reading positions…'));
  await fill();
}
