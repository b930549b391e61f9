// Position snapshots. The API has no list of them; this page finds those
// that recent runs used (GET /orch/runs → position_snapshot_ids), reads
// their metadata, and opens any other by its id.

import { get, mapLimit, page, seg } from '../api.js';
import { fmtInt, fmtTime, h, pageHead, problemBox, replace, table } from '../render.js';

const RUN_PAGES = 5;

export async function render(main, ctx) {
  document.title = 'Position snapshots · IPRS';
  const open = h('form', { class: 'filters', id: 'open-book' },
    h('label', null, 'Open a snapshot by id', h('input', { type: 'text', name: 'id', placeholder: 'position_snapshot_id', required: true })),
    h('button', { type: 'submit', class: 'primary' }, 'Open'));
  open.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = String(new FormData(open).get('id') || '').trim();
    if (id) ctx.go(`#/books/${seg(id)}`);
  });

  const used = new Map(); // snapshot id → run ids, newest first
  let cursor = '';
  for (let i = 0; i < RUN_PAGES; i++) {
    const p = await page('/orch/runs', { limit: 100, cursor, signal: ctx.signal });
    for (const r of p.items) {
      for (const ps of r.position_snapshot_ids || []) {
        if (!used.has(ps)) used.set(ps, []);
        used.get(ps).push(r.run_id);
      }
    }
    cursor = p.next;
    if (!cursor) break;
  }
  const ids = [...used.keys()].slice(0, 200);
  const metas = await mapLimit(ids, 6, (id) => get(`/orch/position-snapshots/${seg(id)}`, { signal: ctx.signal }).catch((err) => ({ position_snapshot_id: id, err })));
  metas.sort((a, b) => String(b.as_of_time || '').localeCompare(String(a.as_of_time || '')));

  const list = table({
    columns: [
      { label: 'Snapshot', cell: (m) => h('a', { href: `#/books/${seg(m.position_snapshot_id)}`, class: 'mono' }, m.position_snapshot_id) },
      { label: 'Portfolio node', cell: (m) => m.portfolio_node_id || '' },
      { label: 'As of', cell: (m) => fmtTime(m.as_of_time) },
      { label: 'Positions', num: true, cell: (m) => (m.err ? '' : fmtInt(m.position_count)) },
      { label: 'Products', cell: (m) => (m.product_types || []).join(', ') },
      { label: 'Runs', num: true, cell: (m) => fmtInt(used.get(m.position_snapshot_id).length) },
      { label: 'Latest run', cell: (m) => { const r = used.get(m.position_snapshot_id)[0]; return h('a', { href: `#/runs/${seg(r)}`, class: 'mono' }, r); } },
      { label: 'Stored', cell: (m) => (m.err ? problemBox(m.err) : fmtTime(m.created_at)) },
    ],
    rows: metas,
    empty: 'No run has used a position snapshot yet. Open one by its id above.',
  });
  list.id = 'books-table';
  replace(main,
    pageHead({ title: 'Position snapshots', sub: `The snapshots that the latest ${fmtInt(RUN_PAGES * 100)} runs used. Others open by id.` }),
    open, list);
}
