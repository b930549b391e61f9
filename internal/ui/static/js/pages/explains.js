// The P&L explains, newest first, with live progress of those still
// valuing, and a form to explain the P&L between two finished runs. The
// run and compare pages start an explain with explainButton.

import { finalStatus, get, page, poll, post, seg } from '../api.js';
import { badge, field, fmtDuration, fmtTime, h, pageHead, problemBox, progressBar, replace, select, table } from '../render.js';

/** The explain page's address. */
export function explainHref(id) {
  return `#/explains/${seg(id)}`;
}

/**
 * Asks for the explain of the P&L from run from to run to
 * (POST /orch/explains; the same request again answers the explain there
 * is) and opens its page; a refusal is shown in note.
 */
export async function startExplain(from, to, { button, note }) {
  if (button) button.disabled = true;
  replace(note);
  try {
    const e = await post('/orch/explains', { from_run_id: from, to_run_id: to });
    window.location.hash = explainHref(e.explain_id);
  } catch (err) {
    replace(note, problemBox(err));
  } finally {
    if (button) button.disabled = false;
  }
}

/** A button that starts the explain from → to (see startExplain). */
export function explainButton(from, to, { id, note, label = 'Explain P&L' }) {
  const b = h('button', { type: 'button', id, title: `Explain the P&L from ${from} to ${to}` }, label);
  b.addEventListener('click', () => startExplain(from, to, { button: b, note }));
  return b;
}

const runLink = (id) => h('a', { href: `#/runs/${seg(id)}`, class: 'mono' }, id);

export async function render(main, ctx) {
  document.title = 'P&L explains · IPRS';
  const [explains, runs] = await Promise.all([
    page('/orch/explains', { limit: 100, signal: ctx.signal }),
    page('/orch/runs', { limit: 200, signal: ctx.signal }),
  ]);

  // ---- the form: two finished runs ----
  const done = runs.items.filter((r) => r.status === 'COMPLETED' || r.status === 'PUBLISHED');
  const options = [['', '— choose a run —'], ...done.map((r) => [r.run_id, `${r.run_id} · ${fmtTime(r.as_of_time)}`])];
  const note = h('div', { id: 'explain-start-note' });
  const button = h('button', { type: 'submit', class: 'primary', id: 'explain-start' }, 'Explain');
  const form = h('form', { class: 'filters', id: 'explain-start-form' },
    field('From run', select('from', options, ctx.query.get('from') || '', { id: 'explain-from' })),
    field('To run', select('to', options, ctx.query.get('to') || '', { id: 'explain-to' })),
    button);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const d = new FormData(form);
    startExplain(String(d.get('from') || ''), String(d.get('to') || ''), { button, note });
  });

  // ---- the list ----
  const rows = new Map(); // explain_id → {explain, badge cell, bar, took}
  const track = (x) => rows.set(x.explain_id, {
    explain: x, badgeCell: h('span', null, badge(x.status)), bar: progressBar(x),
    took: h('span', { class: 'muted' }, fmtDuration(x.started_at, x.completed_at)),
  });
  explains.items.forEach(track);
  const list = table({
    columns: [
      { label: 'Explain', cell: (x) => h('a', { href: explainHref(x.explain_id), class: 'mono' }, x.explain_id) },
      { label: 'From run', cell: (x) => runLink(x.from_run_id) },
      { label: 'To run', cell: (x) => runLink(x.to_run_id) },
      { label: 'Status', cell: (x) => rows.get(x.explain_id).badgeCell },
      { label: 'Progress', cell: (x) => rows.get(x.explain_id).bar },
      { label: 'Took', num: true, cell: (x) => rows.get(x.explain_id).took },
      { label: 'Requested', cell: (x) => fmtTime(x.requested_at) },
    ],
    rows: explains.items,
    empty: 'No explains yet. Start one above, or from a run ("Explain vs previous") or the compare page.',
  });
  list.id = 'explains-table';
  const errors = h('div');
  replace(main,
    pageHead({
      crumbs: [h('a', { href: '#/runs' }, 'Runs')],
      title: 'P&L explains',
      sub: 'The change of BASE PV between two finished runs, step by step: carry, rates, spread, FX, amendments, new, matured.',
    }),
    form, note, errors, list);

  // Live: the explains still valuing.
  poll(async () => {
    const open = [...rows.values()].filter((x) => !finalStatus(x.explain.status));
    await Promise.all(open.map(async (row) => {
      const x = await get(`/orch/explains/${seg(row.explain.explain_id)}`, { signal: ctx.signal });
      row.explain = x;
      replace(row.badgeCell, badge(x.status));
      row.bar.update(x);
      row.took.textContent = fmtDuration(x.started_at, x.completed_at);
    }));
    replace(errors);
    return open.length === 0;
  }, 1000, ctx.signal, (err) => replace(errors, problemBox(err)));
}
