// Two runs compared position by position: the totals of one measure under
// one scenario in each run and their difference, how many positions match,
// break or are in one run only, and the positions that do not match, a
// page at a time. The numbers are the results service's
// (GET /results/compare); the page computes none.

import { get, page, seg } from '../api.js';
import {
  badge, card, field, fmtInt, h, loading, measureValue, pageHead, problemBox, replace, select, stat, table,
} from '../render.js';
import { explainButton } from './explains.js';

const PAGE = 100;

/** The options of a select: the values listed, plus value when it is not among them (so what is shown is what was asked). */
export function withValue(values, value) {
  return value && !values.includes(value) ? [...values, value] : values;
}

/** The items of both runs' lists in a that b also has, in a's order. */
export function common(a, b) {
  const bs = new Set(b || []);
  return [...new Set(a || [])].filter((x) => bs.has(x));
}

/** Where the runs' books come from: the portfolio nodes, sorted, or '' for a run given explicit snapshots. */
function scopeKey(run) {
  const ids = run.portfolio_scope?.node_ids;
  return ids?.length ? JSON.stringify([...ids].sort()) : '';
}

/**
 * The run to compare run with day over day: among runs, the finished
 * (COMPLETED or PUBLISHED) run of the same type, portfolio nodes and model
 * set with the latest as-of time before run's (the latest requested of
 * those); null when there is none, or run names no portfolio nodes.
 */
export function previousRun(run, runs) {
  const key = scopeKey(run);
  if (!key) return null;
  let best = null;
  for (const r of runs) {
    if (r.run_id === run.run_id || (r.status !== 'COMPLETED' && r.status !== 'PUBLISHED')
      || r.run_type !== run.run_type || (r.model_set_id || '') !== (run.model_set_id || '')
      || scopeKey(r) !== key || !(Date.parse(r.as_of_time) < Date.parse(run.as_of_time))) continue;
    const [a, b] = best === null ? [1, 0] : [Date.parse(r.as_of_time), Date.parse(best.as_of_time)];
    const later = a > b || (a === b && Date.parse(r.requested_at) > Date.parse(best.requested_at));
    if (later) best = r;
  }
  return best;
}

/** The compare page's address for two runs. */
export function compareHref(base, target) {
  return `#/compare?${new URLSearchParams({ base, target })}`;
}

export async function render(main, ctx) {
  const q = ctx.query;
  const f = {
    base: q.get('base') || '',
    target: q.get('target') || '',
    measure: q.get('measure') || '',
    scenario: q.get('scenario') || '',
    abs_tol: q.get('abs_tol') || '',
    rel_tol: q.get('rel_tol') || '',
    limit: q.get('limit') || '',
  };
  document.title = f.base && f.target ? `Compare · ${f.base} · ${f.target} · IPRS` : 'Compare runs · IPRS';

  // ---- the form ----
  const runs = (await page('/orch/runs', { limit: 200, signal: ctx.signal })).items;
  const byId = new Map(runs.map((r) => [r.run_id, r]));
  const runOptions = (value) => [['', '— choose a run —'],
    ...withValue(runs.map((r) => r.run_id), value).map((id) => [id, byId.has(id) ? `${id} · ${byId.get(id).status}` : id])];
  const b = byId.get(f.base);
  const t = byId.get(f.target);
  const measures = b && t ? common(b.measures, t.measures) : [];
  const scenarios = b && t ? common(b.scenarios, t.scenarios) : [];
  const form = h('form', { class: 'filters', id: 'compare-form' },
    field('Base run', select('base', runOptions(f.base), f.base, { id: 'compare-base' })),
    field('Target run', select('target', runOptions(f.target), f.target, { id: 'compare-target' })),
    field('Measure', select('measure', [['', 'Default (PV)'], ...withValue(measures, f.measure)], f.measure, { id: 'compare-measure' })),
    field('Scenario', select('scenario', [['', 'Default (BASE)'], ...withValue(scenarios, f.scenario)], f.scenario, { id: 'compare-scenario' })),
    field('Abs. tolerance', h('input', { type: 'text', name: 'abs_tol', value: f.abs_tol, placeholder: '0', inputmode: 'decimal', size: 8, id: 'compare-abs-tol' })),
    field('Rel. tolerance', h('input', { type: 'text', name: 'rel_tol', value: f.rel_tol, placeholder: '0', inputmode: 'decimal', size: 8, id: 'compare-rel-tol' })),
    h('button', { type: 'submit', class: 'primary', id: 'compare-show' }, 'Compare'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const p = new URLSearchParams();
    for (const k of ['base', 'target', 'measure', 'scenario', 'abs_tol', 'rel_tol']) {
      const v = String(d.get(k) || '').trim();
      if (v) p.set(k, v);
    }
    if (f.limit) p.set('limit', f.limit);
    ctx.go(`#/compare?${p}`);
  });

  const body = h('div', { id: 'compare-body' });
  const runLink = (id) => h('a', { href: `#/runs/${seg(id)}`, class: 'mono' }, id);
  const explainNote = h('div', { id: 'compare-explain-note' });
  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/runs' }, 'Runs')],
      title: 'Compare two runs',
      sub: f.base && f.target ? h('span', null, runLink(f.base), ' → ', runLink(f.target), ' · diff = target − base') : 'Pick a base run and a target run.',
      actions: f.base && f.target ? [explainButton(f.base, f.target, { id: 'compare-explain', note: explainNote, label: 'Explain the P&L' })] : [],
    }),
    explainNote, form, body);
  if (!f.base || !f.target) {
    replace(body, h('div', { class: 'notice', id: 'compare-choose' },
      'Choose the base run and the target run: both must be COMPLETED or PUBLISHED.'));
    return;
  }
  replace(body, loading());

  // ---- the data ----
  const query = {
    base: f.base, target: f.target, measure: f.measure, scenario: f.scenario,
    abs_tol: f.abs_tol, rel_tol: f.rel_tol, limit: f.limit || PAGE,
  };
  let cmp;
  try {
    cmp = await get('/results/compare', { query, signal: ctx.signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    replace(body, problemBox(err));
    return;
  }

  const c = cmp.counts;
  const columns = [
    { label: 'Position', cell: (it) => h('a', { href: `#/runs/${seg(it.base === null ? cmp.target_run_id : cmp.base_run_id)}/positions/${seg(it.position_id)}`, class: 'mono' }, it.position_id) },
    { label: 'Status', cell: (it) => badge(it.status) },
    { label: 'Base', num: true, cell: (it) => measureValue(it.base) },
    { label: 'Target', num: true, cell: (it) => measureValue(it.target) },
    { label: 'Diff', num: true, title: 'target − base', cell: (it) => measureValue(it.diff) },
  ];
  const tbl = table({ columns, rows: cmp.items, frame: '', empty: 'Every position matches within the tolerances.' });
  tbl.id = 'compare-table';

  let next = cmp.next_cursor || '';
  const more = h('button', { type: 'button', id: 'compare-more' }, 'Next page');
  const moreNote = h('span', { id: 'compare-more-note' });
  const moreBar = h('div', { class: 'load-more' }, more, moreNote);
  const showMore = () => { moreBar.hidden = !next; };
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const p = await get('/results/compare', { query: { ...query, cursor: next }, signal: ctx.signal });
      next = p.next_cursor || '';
      tbl.addRows(p.items || []);
      replace(moreNote);
      tbl.dataset.pages = String(Number(tbl.dataset.pages) + 1);
    } catch (err) {
      if (err.name !== 'AbortError') replace(moreNote, problemBox(err));
    } finally {
      more.disabled = false;
      showMore();
    }
  });
  tbl.dataset.pages = '1';
  showMore();

  const totals = h('div', { class: 'stats', id: 'compare-totals' },
    stat('Base total', h('span', { 'data-side': 'base' }, measureValue(cmp.totals.base))),
    stat('Target total', h('span', { 'data-side': 'target' }, measureValue(cmp.totals.target))),
    stat('Diff', h('span', { 'data-side': 'diff' }, measureValue(cmp.totals.diff))));
  const counts = h('div', { class: 'stats', id: 'compare-counts' },
    [['matched', 'Matched'], ['breaks', 'Breaks'], ['only_in_base', 'Only in base'], ['only_in_target', 'Only in target']]
      .map(([k, label]) => stat(label, h('span', { 'data-count': k, 'data-value': String(c[k]) }, fmtInt(c[k])))));
  replace(body,
    h('div', { class: 'grid-2' },
      card(`${cmp.measure} under ${cmp.scenario}`, totals),
      card(`Positions · abs_tol ${cmp.abs_tol} · rel_tol ${cmp.rel_tol}`, counts)),
    card('Positions that do not match', tbl, moreBar));
}
