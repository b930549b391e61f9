// The list of runs, newest first: filters by status (the API's), type and
// as-of date (over the pages loaded), with live progress of the runs that
// are not finished and new runs added at the top as they are submitted.

import { finalStatus, get, page, poll, seg } from '../api.js';
import { badge, field, fmtDuration, fmtTime, h, pageHead, problemBox, progressBar, replace, select, table } from '../render.js';
import { compareHref, previousRun } from './compare.js';

const STATUSES = ['QUEUED', 'RUNNING', 'CANCELLING', 'COMPLETED', 'FAILED', 'CANCELLED', 'PUBLISHED'];
const TYPES = ['EOD_OFFICIAL', 'INTRADAY', 'SANDBOX'];

export async function render(main, ctx) {
  document.title = 'Runs · IPRS';
  const q = ctx.query;
  const f = { status: q.get('status') || '', type: q.get('type') || '', from: q.get('from') || '', to: q.get('to') || '' };
  const matches = (r) => (!f.type || r.run_type === f.type)
    && (!f.from || r.as_of_time.slice(0, 10) >= f.from)
    && (!f.to || r.as_of_time.slice(0, 10) <= f.to);

  const form = h('form', { class: 'filters', id: 'run-filters' },
    field('Status', select('status', [['', 'Any'], ...STATUSES], f.status)),
    field('Type', select('type', [['', 'Any'], ...TYPES], f.type)),
    field('As of from', h('input', { type: 'date', name: 'from', value: f.from })),
    field('to', h('input', { type: 'date', name: 'to', value: f.to })),
    h('button', { type: 'submit', class: 'primary' }, 'Apply'),
    h('a', { class: 'button', href: '#/runs' }, 'Clear'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(form);
    const p = new URLSearchParams();
    for (const k of ['status', 'type', 'from', 'to']) if (d.get(k)) p.set(k, d.get(k));
    ctx.go(`#/runs${p.toString() ? `?${p}` : ''}`);
  });

  const rows = new Map(); // run_id → {run, progress, status cell, …}
  const columns = [
    { label: 'Run', cell: (r) => h('a', { href: `#/runs/${seg(r.run_id)}`, class: 'mono' }, r.run_id) },
    { label: 'Type', cell: (r) => r.run_type },
    { label: 'Status', cell: (r) => rows.get(r.run_id).badgeCell },
    { label: 'As of', cell: (r) => fmtTime(r.as_of_time) },
    { label: 'Progress', cell: (r) => rows.get(r.run_id).bar },
    { label: 'Took', num: true, cell: (r) => rows.get(r.run_id).took },
    { label: 'Scenarios', num: true, cell: (r) => String(r.scenarios.length) },
    { label: 'Day over day', title: 'Compare with the previous run of the same book, type and model set', cell: (r) => {
      const prev = previousRun(r, [...rows.values()].map((x) => x.run));
      return prev ? h('a', { href: compareHref(prev.run_id, r.run_id), class: 'compare-previous', title: `${prev.run_id} → ${r.run_id}` },
        `vs ${fmtTime(prev.as_of_time)}`) : '';
    } },
    { label: 'Market', cell: (r) => h('a', { href: `#/market/${seg(r.market_snapshot_id)}`, class: 'mono' }, r.market_snapshot_id) },
    { label: 'Requested', cell: (r) => fmtTime(r.requested_at) },
  ];
  const track = (r) => {
    const took = h('span', { class: 'muted' }, fmtDuration(r.started_at, r.completed_at));
    rows.set(r.run_id, { run: r, badgeCell: h('span', { class: 'run-status' }, badge(r.status)), bar: progressBar(r), took });
  };
  const update = (r) => {
    const row = rows.get(r.run_id);
    if (!row) return;
    row.run = r;
    replace(row.badgeCell, badge(r.status));
    row.bar.update(r);
    row.took.textContent = fmtDuration(r.started_at, r.completed_at);
  };

  const first = await page('/orch/runs', { query: { status: f.status }, limit: 50, signal: ctx.signal });
  const shown = first.items.filter(matches);
  shown.forEach(track);
  const list = table({
    columns, rows: shown,
    empty: f.status || f.type || f.from || f.to ? 'No run matches these filters.' : 'No runs yet. Submit one with `iprs run submit` or POST /orch/runs.',
  });
  list.id = 'runs-table';
  let next = first.next;
  const more = h('button', { type: 'button', id: 'runs-more' }, 'Load more');
  const moreNote = h('span');
  const moreBar = h('div', { class: 'load-more' }, more, moreNote);
  const showMore = () => { moreBar.hidden = !next; };
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const p = await page('/orch/runs', { query: { status: f.status }, limit: 100, cursor: next, signal: ctx.signal });
      next = p.next;
      const add = p.items.filter((r) => matches(r) && !rows.has(r.run_id));
      add.forEach(track);
      list.addRows(add);
      moreNote.textContent = add.length ? '' : 'No more matching runs on that page.';
    } catch (err) {
      replace(moreNote, problemBox(err));
    } finally {
      more.disabled = false;
      showMore();
    }
  });
  showMore();
  const errors = h('div');

  replace(main,
    pageHead({ title: 'Runs', sub: 'Valuation runs, newest first. Progress updates live.' }),
    form, errors, list, moreBar);

  // Live: refresh the runs that are not finished, and add new ones on top.
  let tick = 0;
  poll(async () => {
    tick++;
    const open = [...rows.values()].filter((x) => !finalStatus(x.run.status)).map((x) => x.run.run_id);
    await Promise.all(open.map(async (id) => update(await get(`/orch/runs/${seg(id)}`, { signal: ctx.signal }))));
    if (tick % 3 === 0) {
      const latest = await page('/orch/runs', { query: { status: f.status }, limit: 20, signal: ctx.signal });
      const fresh = latest.items.filter((r) => matches(r) && !rows.has(r.run_id));
      if (fresh.length) {
        fresh.forEach(track);
        const tbody = list.table.tBodies[0];
        const before = tbody.querySelector('tr:not(.empty)');
        tbody.querySelector('tr.empty')?.remove();
        const tmp = table({ columns, rows: fresh });
        for (const tr of [...tmp.table.tBodies[0].rows]) tbody.insertBefore(tr, before);
      }
      for (const r of latest.items) if (rows.has(r.run_id)) update(r);
    }
    replace(errors);
    return false;
  }, 1000, ctx.signal, (err) => replace(errors, problemBox(err)));
}
