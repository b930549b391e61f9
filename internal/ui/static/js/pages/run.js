// One run: status and live progress, what it was made of, its summary
// (each scenario's totals and P&L against BASE), its replay (Verify), its
// tasks and the errors of its DEAD tasks.

import { blob, finalStatus, get, page, poll, seg, token } from '../api.js';
import {
  badge, card, fmtDuration, fmtInt, fmtTime, h, kv, loading, measureValue, num, pageHead, problemBox,
  progressBar, replace, table,
} from '../render.js';
import { kr01View } from '../views/kr01.js';
import { verifyView } from '../views/verify.js';
import { scenarioSets } from './var.js';
import { compareHref, previousRun } from './compare.js';
import { explainButton } from './explains.js';

/** BASE first, then the run's own order. */
export function scenarioOrder(run, summary) {
  const ids = [...(run?.scenarios || [])];
  for (const k of Object.keys(summary?.scenarios || {})) if (!ids.includes(k)) ids.push(k);
  return ids.sort((a, b) => (a === 'BASE' ? -1 : b === 'BASE' ? 1 : 0));
}

function summaryTable(run, summary) {
  const ids = scenarioOrder(run, summary);
  const measures = [...run.measures];
  for (const id of ids) {
    for (const m of Object.keys(summary.scenarios[id]?.measures || {})) if (!measures.includes(m)) measures.push(m);
  }
  const withPnL = ids.some((id) => typeof summary.scenarios[id]?.pnl === 'number');
  const columns = [
    { label: 'Scenario', cell: (id) => h('a', { href: `#/runs/${seg(run.run_id)}/cube?scenario=${encodeURIComponent(id)}` }, id) },
    { label: 'Positions', num: true, digits: 0, cell: (id) => num(summary.scenarios[id]?.position_count ?? 0, 0) },
    ...measures.map((m) => ({ label: m, num: true, cell: (id) => measureValue(summary.scenarios[id]?.measures?.[m]) })),
  ];
  if (withPnL) {
    columns.push({ label: 'P&L vs BASE', num: true, title: 'Σ PV(scenario) − Σ PV(BASE)', cell: (id) => measureValue(summary.scenarios[id]?.pnl) });
  }
  const t = table({ columns, rows: ids.filter((id) => summary.scenarios[id]), frame: 'free', empty: 'No results yet.' });
  t.id = 'summary-table';
  return t;
}

function taskTables(tasks) {
  const dead = tasks.filter((t) => t.status === 'DEAD');
  const errors = dead.length ? h('div', { class: 'problem', id: 'dead-tasks', role: 'alert' },
    h('div', { class: 'title' }, `${fmtInt(dead.length)} ${dead.length === 1 ? 'task' : 'tasks'} failed for good (DEAD)`),
    h('ul', null, dead.map((t) => h('li', null,
      h('span', { class: 'ptr' }, `task ${t.task_id} · ${t.product_type} bucket ${t.bucket}`), ' ',
      h('span', { class: 'dead-error' }, t.last_error || 'no error recorded'))))) : null;
  const columns = [
    { label: 'Task', num: true, cell: (t) => String(t.task_id) },
    { label: 'Product', cell: (t) => t.product_type },
    { label: 'Bucket', num: true, cell: (t) => `${t.bucket} / ${t.hash_mod}` },
    { label: 'Status', cell: (t) => badge(t.status) },
    { label: 'Positions', num: true, cell: (t) => num(t.position_count, 0) },
    { label: 'Attempts', num: true, cell: (t) => `${t.attempts} / ${t.max_attempts}` },
    { label: 'Took', num: true, cell: (t) => fmtDuration(t.started_at, t.finished_at) },
    { label: 'Worker', cell: (t) => h('span', { class: 'muted small' }, t.lease_owner || '') },
    { label: 'Last error', className: 'err', cell: (t) => t.last_error || '' },
  ];
  const t = table({ columns, rows: tasks, frame: 'short', rowClass: (x) => (x.status === 'DEAD' ? 'dead' : null), empty: 'No tasks.' });
  t.id = 'tasks-table';
  return [errors, t];
}

function details(run) {
  const snaps = run.position_snapshot_ids || [];
  return kv([
    ['Type', run.run_type],
    ['As of', fmtTime(run.as_of_time)],
    ['Market snapshot', h('a', { href: `#/market/${seg(run.market_snapshot_id)}`, class: 'mono' }, run.market_snapshot_id)],
    ['Position snapshots', snaps.length ? snaps.flatMap((id, i) => [i ? ', ' : null, h('a', { href: `#/books/${seg(id)}`, class: 'mono' }, id)]) : ''],
    ['Portfolio scope', run.portfolio_scope ? run.portfolio_scope.node_ids.join(', ') : null],
    ['Model set', run.model_set_id || null],
    ['Measures', run.measures.join(', ')],
    ['Scenarios', run.scenarios.join(', ')],
    ['Execution', `hash_mod ${run.execution?.hash_mod ?? '—'} · max_attempts ${run.execution?.max_attempts ?? '—'}`],
    ['Engine', h('span', { class: 'mono' }, run.engine_version || '')],
    ['Request hash', h('span', { class: 'mono small' }, run.request_hash || '')],
    ['Publish hash', run.publish_hash ? h('span', { class: 'mono small' }, run.publish_hash) : null],
  ]);
}

function times(run) {
  return kv([
    ['Requested', fmtTime(run.requested_at)],
    ['Started', fmtTime(run.started_at)],
    ['Completed', fmtTime(run.completed_at)],
    ['Took', fmtDuration(run.started_at, run.completed_at) || (run.started_at ? 'running' : '')],
    ['Published', run.published_at ? fmtTime(run.published_at) : null],
  ]);
}

async function download(run, button, note) {
  button.disabled = true;
  replace(note, 'Preparing…');
  try {
    const b = await blob(`/results/runs/${seg(run.run_id)}/export.csv`);
    const url = URL.createObjectURL(b);
    const a = h('a', { href: url, download: `${run.run_id}.csv` });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    replace(note);
  } catch (err) {
    replace(note, problemBox(err));
  } finally {
    button.disabled = false;
  }
}

/**
 * Puts in slot a link comparing run with the previous run of its book (see
 * previousRun), when there is one, and a button explaining the P&L between
 * them (a refusal shown in note).
 */
async function showPrevious(run, slot, signal, note) {
  try {
    const prev = previousRun(run, (await page('/orch/runs', { limit: 200, signal })).items);
    if (prev) {
      replace(slot, h('a', {
        class: 'button', href: compareHref(prev.run_id, run.run_id), id: 'compare-previous',
        title: `${prev.run_id} · as of ${fmtTime(prev.as_of_time)} → this run`,
      }, 'Compare with previous'), ' ', explainButton(prev.run_id, run.run_id, { id: 'explain-previous', note, label: 'Explain vs previous' }));
    }
  } catch (err) {
    if (err.name !== 'AbortError') replace(slot, h('span', { class: 'muted small', title: err.message }, 'previous run unknown'));
  }
}

export async function render(main, ctx) {
  const id = ctx.params[0];
  document.title = `${id} · IPRS`;
  let run = await get(`/orch/runs/${seg(id)}`, { signal: ctx.signal });

  const statusEl = h('span', { id: 'run-status' }, badge(run.status));
  const bar = progressBar(run, { big: true });
  bar.id = 'run-progress';
  const errorEl = h('div');
  const timesEl = h('div', null, times(run));
  const summaryEl = h('div', { id: 'summary-body' }, loading());
  const tasksEl = h('div', null, loading());
  const ladder = kr01View();
  const verifier = verifyView(run, ctx.signal);
  const note = h('div');
  // Without a token the browser downloads the stream itself; with one the
  // request needs its header, so the file is assembled in the page.
  const exportPath = `/results/runs/${seg(run.run_id)}/export.csv`;
  let exportBtn;
  if (token()) {
    exportBtn = h('button', { type: 'button', id: 'export-csv' }, 'Export CSV');
    exportBtn.addEventListener('click', () => download(run, exportBtn, note));
  } else {
    exportBtn = h('a', { class: 'button', id: 'export-csv', href: exportPath, download: `${run.run_id}.csv` }, 'Export CSV');
  }

  // Filled with a link to the day-over-day comparison once the runs are read.
  const previousSlot = h('span', { class: 'previous-slot' });
  const previousShown = showPrevious(run, previousSlot, ctx.signal, note);

  const showError = (r) => replace(errorEl, r.error ? h('div', { class: 'problem', id: 'run-error' },
    h('div', { class: 'title' }, `Run ${r.status.toLowerCase()}`), h('div', { class: 'detail' }, r.error)) : null);
  showError(run);

  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/runs' }, 'Runs')],
      title: h('span', { class: 'mono' }, run.run_id),
      extra: [statusEl],
      sub: `${run.run_type} · as of ${fmtTime(run.as_of_time)}`,
      actions: [h('a', { class: 'button', href: `#/runs/${seg(run.run_id)}/cube`, id: 'open-cube' }, 'Cube'),
        scenarioSets(run).length ? h('a', { class: 'button', href: `#/runs/${seg(run.run_id)}/var`, id: 'open-var' }, 'VaR / ES') : null,
        h('a', { class: 'button', href: `#/compare?base=${seg(run.run_id)}`, id: 'open-compare' }, 'Compare with…'),
        previousSlot,
        exportBtn].filter(Boolean),
    }),
    note,
    errorEl,
    h('div', { class: 'grid-2' },
      card('Progress', bar, timesEl),
      card('Inputs', details(run))),
    h('div', { class: 'stack' },
      h('section', { class: 'card', id: 'summary' }, h('h2', null, 'Summary', h('span', { class: 'note' }, 'exact sums over each scenario\'s positions')), summaryEl),
      ladder,
      verifier,
      h('section', { class: 'card', id: 'tasks' }, h('h2', null, 'Tasks'), tasksEl)));

  // The summary reads every result row, so while the run goes on it is
  // read once and again when the run ends; the tasks follow the progress.
  const loadSummary = async () => {
    try {
      const summary = await get(`/results/runs/${seg(id)}/summary`, { signal: ctx.signal });
      const note = !finalStatus(run.status) ? 'Results so far; the summary is read again when the run ends.'
        : summary.partial === true || run.status === 'FAILED' || run.status === 'CANCELLED'
          ? 'Partial: these sums cover only the tasks that succeeded.' : null;
      replace(summaryEl, note ? h('p', { class: 'muted small', id: 'summary-note' }, note) : null, summaryTable(run, summary));
      ladder.update(summary, scenarioOrder(run, summary));
      summaryEl.dataset.runStatus = summary.status;
    } catch (err) {
      if (err.name !== 'AbortError') replace(summaryEl, problemBox(err));
    }
  };
  const loadTasks = async () => {
    try {
      const tasks = await get(`/orch/runs/${seg(id)}/tasks`, { signal: ctx.signal });
      replace(tasksEl, taskTables(tasks.items || []));
    } catch (err) {
      if (err.name !== 'AbortError') replace(tasksEl, problemBox(err));
    }
  };
  await Promise.all([loadSummary(), loadTasks(), previousShown]);

  if (finalStatus(run.status)) return;
  let seen = `${run.status}/${run.progress.positions_done}`;
  poll(async () => {
    run = await get(`/orch/runs/${seg(id)}`, { signal: ctx.signal });
    replace(statusEl, badge(run.status));
    bar.update(run);
    replace(timesEl, times(run));
    showError(run);
    verifier.update(run);
    const now = `${run.status}/${run.progress.positions_done}`;
    if (now !== seen) {
      seen = now;
      await (finalStatus(run.status) ? Promise.all([loadSummary(), loadTasks()]) : loadTasks());
    }
    return finalStatus(run.status);
  }, 1000, ctx.signal);
}
