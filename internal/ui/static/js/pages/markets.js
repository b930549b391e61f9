// Market data snapshots, newest as-of first, with their data quality.

import { page, seg } from '../api.js';
import { badge, fmtInt, fmtTime, h, pageHead, problemBox, replace, table } from '../render.js';

export async function render(main, ctx) {
  document.title = 'Market data · IPRS';
  const columns = [
    { label: 'Snapshot', cell: (m) => h('a', { href: `#/market/${seg(m.snapshot_id)}`, class: 'mono' }, m.snapshot_id) },
    { label: 'As of', cell: (m) => fmtTime(m.as_of_time) },
    { label: 'Data quality', cell: (m) => badge(m.dq_status) },
    { label: 'Issues', num: true, cell: (m) => fmtInt((m.issues || []).length) },
    { label: 'Vendor', cell: (m) => m.vendor || '' },
    { label: 'Universe', cell: (m) => m.universe_id || '' },
    { label: 'Hash', cell: (m) => h('span', { class: 'mono small muted', title: m.payload_hash }, (m.payload_hash || '').slice(0, 12)) },
    { label: 'Stored', cell: (m) => fmtTime(m.created_at) },
  ];
  const first = await page('/mkt/snapshots', { limit: 50, signal: ctx.signal });
  const list = table({ columns, rows: first.items, empty: 'No market snapshots yet. Upload one with `iprs push market FILE` or POST /mkt/snapshots.' });
  list.id = 'markets-table';
  let next = first.next;
  const more = h('button', { type: 'button' }, 'Load more');
  const note = h('span');
  const bar = h('div', { class: 'load-more' }, more, note);
  bar.hidden = !next;
  more.addEventListener('click', async () => {
    more.disabled = true;
    try {
      const p = await page('/mkt/snapshots', { limit: 100, cursor: next, signal: ctx.signal });
      next = p.next;
      list.addRows(p.items);
    } catch (err) {
      replace(note, problemBox(err));
    } finally {
      more.disabled = false;
      bar.hidden = !next;
    }
  });
  replace(main, pageHead({ title: 'Market data', sub: 'Immutable market snapshots, newest as-of first.' }), list, bar);
}
