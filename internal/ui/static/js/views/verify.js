// verify.js: the replay of a run (SPEC §5 "Replay"), a section of the run
// page. The Verify button asks the platform to price every position of a
// COMPLETED or PUBLISHED run again from its stored inputs and compare with
// the stored results bit for bit; the section follows the replay's
// progress, then shows the verdict and the mismatches: each position,
// scenario and measure whose stored value differs from the recomputed
// one, both shown to the last digit (a number differing in its last bit
// reads differently there). While a replay is open, Cancel stops it.

import { finalStatus, get, poll, post, seg } from '../api.js';
import { badge, fmtInt, fmtTime, h, kv, problemBox, progressBar, replace, stat, table } from '../render.js';

/** A stored or recomputed value, exactly: every digit of a number, a KR01 ladder as JSON. */
export function exactValue(v) {
  if (v === null || v === undefined) return h('span', { class: 'none' }, '—');
  if (typeof v === 'number') return h('span', { class: 'n mono' }, String(v));
  if (typeof v === 'string') return h('span', { class: 'mono' }, v);
  return h('code', { class: 'small' }, JSON.stringify(v));
}

function verdict(v) {
  if (!finalStatus(v.status)) {
    const bar = progressBar(v);
    bar.id = 'verify-progress';
    return [h('p', { id: 'verify-verdict', 'data-verdict': 'open' }, 'Replay ', h('span', { class: 'mono' }, v.verify_id), ' ', badge(v.status)), bar];
  }
  const ok = v.verified === true;
  const hash = v.publish_hash_matches === null || v.publish_hash_matches === undefined ? 'not published'
    : v.publish_hash_matches ? 'matches' : 'DIFFERS';
  const head = h('div', { class: ok ? 'verdict ok' : 'verdict bad', id: 'verify-verdict', 'data-verdict': ok ? 'verified' : 'not-verified', role: ok ? null : 'alert' },
    h('span', { class: 'title' }, ok ? 'Verified' : 'Not verified'),
    h('span', { class: 'muted small' }, ok ? ' · every position re-priced bit for bit equal to the stored results'
      : v.error ? ` · the replay ${v.status.toLowerCase()}: ${v.error}`
        : v.status === 'CANCELLED' ? ' · the replay was cancelled before it finished'
          : ' · the stored results differ from a replay of their inputs'));
  const stats = h('div', { class: 'stats' },
    stat('Positions checked', `${fmtInt(v.positions_checked)} / ${fmtInt(v.progress?.positions_total ?? 0)}`),
    stat('Mismatches', fmtInt(v.mismatch_count ?? 0)),
    stat('Publish hash', hash));
  const facts = kv([
    ['Replay', h('span', { class: 'mono' }, v.verify_id)],
    ['Requested', `${fmtTime(v.requested_at)}${v.requested_by ? ` by ${v.requested_by}` : ''}`],
    ['Completed', fmtTime(v.completed_at)],
    ['Re-priced by', (v.engine_versions || []).join(', ') || null],
  ]);
  const mismatches = v.mismatches || [];
  let list = null;
  if (mismatches.length) {
    list = table({
      columns: [
        { label: 'Position', cell: (m) => h('span', { class: 'mono' }, m.position_id), title: 'position_id' },
        { label: 'Snapshot', cell: (m) => h('span', { class: 'mono small' }, m.position_snapshot_id) },
        { label: 'Scenario', cell: (m) => m.scenario_id },
        { label: 'Measure', cell: (m) => m.measure },
        { label: 'Stored', num: true, cell: (m) => exactValue(m.stored) },
        { label: 'Recomputed', num: true, cell: (m) => exactValue(m.recomputed) },
        { label: 'Detail', className: 'err', cell: (m) => m.detail || '' },
      ],
      rows: mismatches,
      frame: 'short',
    });
    list.id = 'verify-mismatches';
  }
  const more = mismatches.length < (v.mismatch_count ?? 0)
    ? h('p', { class: 'muted small' }, `The first ${fmtInt(mismatches.length)} of ${fmtInt(v.mismatch_count)} mismatches.`) : null;
  return [head, stats, facts, list, more];
}

/**
 * The Verify section of a run: el.update(run) follows the run's status
 * (the button is offered once it is COMPLETED or PUBLISHED).
 */
export function verifyView(run, signal) {
  const body = h('div', { id: 'verify-body' }, h('p', { class: 'muted small' }, 'Loading…'));
  const button = h('button', { type: 'button', id: 'verify-run', title: 'Price every position again from the stored inputs and compare bit for bit' }, 'Verify');
  const cancel = h('button', { type: 'button', id: 'verify-cancel', hidden: true, title: 'Cancel the replay that is still open' }, 'Cancel replay');
  const el = h('section', { class: 'card', id: 'verify' },
    h('h2', null, 'Verify', h('span', { class: 'note' }, 'replay from stored inputs, compared bit for bit')),
    h('div', { class: 'actions' }, button, cancel), body);
  const id = run.run_id;
  let following = false;

  const show = (v) => {
    replace(body, verdict(v));
    cancel.hidden = finalStatus(v.status) || v.status === 'CANCELLING';
  };
  const follow = () => {
    if (following) return;
    following = true;
    poll(async () => {
      const v = await get(`/orch/runs/${seg(id)}/verify`, { signal });
      show(v);
      if (finalStatus(v.status)) {
        following = false;
        button.disabled = !verifiable(run);
        return true;
      }
      return false;
    }, 500, signal, (err) => replace(body, problemBox(err)));
  };
  const verifiable = (r) => r.status === 'COMPLETED' || r.status === 'PUBLISHED';
  el.update = (r) => {
    run = r;
    button.disabled = following || !verifiable(r);
  };
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      const v = await post(`/orch/runs/${seg(id)}/verify`, undefined, { signal });
      show(v);
      if (finalStatus(v.status)) button.disabled = false;
      else follow();
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(body, problemBox(err));
      button.disabled = !verifiable(run);
    }
  });
  cancel.addEventListener('click', async () => {
    cancel.disabled = true;
    try {
      show(await post(`/orch/runs/${seg(id)}/verify/cancel`, undefined, { signal }));
    } catch (err) {
      if (err.name === 'AbortError') return;
      replace(body, problemBox(err));
    } finally {
      cancel.disabled = false;
    }
  });
  el.update(run);

  (async () => {
    try {
      const v = await get(`/orch/runs/${seg(id)}/verify`, { signal });
      show(v);
      if (!finalStatus(v.status)) {
        button.disabled = true;
        follow();
      }
    } catch (err) {
      if (err.name === 'AbortError') return;
      if (err.status === 404 && !err.noRoute) {
        replace(body, h('p', { class: 'muted small', id: 'verify-verdict', 'data-verdict': 'never' },
          verifiable(run) ? 'Never verified.' : 'A run can be verified once it has completed.'));
      } else {
        replace(body, problemBox(err));
      }
    }
  })();
  return el;
}
