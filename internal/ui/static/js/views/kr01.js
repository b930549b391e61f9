// kr01.js: the KR01 ladder of a run, a section of the run page. For one
// scenario (BASE unless the analyst picks another) it shows the summary's
// KR01 — the exact sum over the scenario's positions of each key-rate
// sensitivity, per curve and tenor — as a table (a row per curve, a column
// per key-rate tenor) and as one column chart per curve.

import { field, fmtNum, h, mountChart, niceTicks, num, replace, s, select, table } from '../render.js';

/** The key-rate tenors of KR01, in order (SPEC: 3M … 30Y). */
export const TENORS = ['3M', '6M', '1Y', '2Y', '3Y', '5Y', '7Y', '10Y', '15Y', '20Y', '30Y'];

/** The KR01 value of a scenario of a summary, when it is a ladder object. */
export function ladderOf(summary, scenario) {
  const v = summary?.scenarios?.[scenario]?.measures?.KR01;
  return v && typeof v === 'object' ? v : null;
}

/**
 * A column chart of one curve's ladder: one bar per tenor from a zero
 * line, negative bars in the dashboard's negative colour. rect.bar carries
 * data-key (the tenor) and data-value (the exact number).
 */
export function ladderChart(ladder, { width = 420, height = 190, format = (v) => fmtNum(v) } = {}) {
  const m = { left: 62, right: 8, top: 10, bottom: 24 };
  const values = TENORS.map((t) => ladder[t]).filter((v) => typeof v === 'number');
  const ticks = niceTicks(Math.min(0, ...values), Math.max(0, ...values), 4);
  // Axis labels as round as their step allows (the bars' titles keep 2 decimals).
  const tickDigits = ticks.every((t) => Number.isInteger(t)) ? 0 : 2;
  const lo = ticks[0];
  const hi = ticks[ticks.length - 1];
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sy = (y) => m.top + (1 - (y - lo) / (hi - lo || 1)) * ph;
  const band = pw / TENORS.length;
  const svg = s('svg', { class: 'chart ladder-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  for (const t of ticks) {
    svg.appendChild(s('line', { class: 'grid', x1: m.left, x2: width - m.right, y1: sy(t), y2: sy(t) }));
    svg.appendChild(s('text', { x: m.left - 6, y: sy(t) + 4, 'text-anchor': 'end' }, fmtNum(t, tickDigits)));
  }
  const y0 = sy(0);
  TENORS.forEach((tenor, i) => {
    const cx = m.left + band * (i + 0.5);
    svg.appendChild(s('text', { x: cx, y: height - m.bottom + 15, 'text-anchor': 'middle' }, tenor));
    const v = ladder[tenor];
    if (typeof v !== 'number') return;
    const y = sy(v);
    svg.appendChild(s('rect', {
      class: `bar${v < 0 ? ' neg' : ''}`, x: (cx - band * 0.32).toFixed(1), y: Math.min(y, y0).toFixed(1),
      width: (band * 0.64).toFixed(1), height: Math.max(1, Math.abs(y - y0)).toFixed(1), rx: 1.5,
      'data-key': tenor, 'data-value': String(v),
    }, s('title', null, `${tenor}: ${format(v)}`)));
  });
  svg.appendChild(s('line', { class: 'axis', x1: m.left, x2: width - m.right, y1: y0, y2: y0 }));
  return svg;
}

function ladderTable(kr) {
  const curves = Object.keys(kr);
  const t = table({
    columns: [
      { label: 'Curve', cell: (c) => h('span', { class: 'mono' }, c) },
      ...TENORS.map((tenor) => ({ label: tenor, num: true, cell: (c) => num(kr[c]?.[tenor]) })),
    ],
    rows: curves,
    frame: 'free',
    empty: 'No curve has a key-rate sensitivity under this scenario.',
  });
  t.id = 'kr01-table';
  return t;
}

/**
 * The KR01 section of a run page, hidden until a summary with KR01
 * arrives: el.update(summary, scenarioIds) (re)draws it, keeping the
 * scenario the analyst chose.
 */
export function kr01View() {
  let chosen = 'BASE';
  const picker = h('form', { class: 'filters no-print', id: 'kr01-form' });
  const body = h('div', { id: 'kr01-body' });
  const el = h('section', { class: 'card', id: 'kr01', hidden: true },
    h('h2', null, 'KR01 ladder', h('span', { class: 'note' }, 'Σ over the scenario\'s positions of the change in PV for +1bp at each key-rate tenor')),
    picker, body);
  let last = null;
  const draw = () => {
    const kr = ladderOf(last, chosen);
    const curves = kr ? Object.keys(kr) : [];
    replace(body,
      kr ? ladderTable(kr) : h('p', { class: 'none' }, `No KR01 under ${chosen}.`),
      curves.length ? h('div', { class: 'ladder-grid' }, curves.map((c) => {
        const box = h('div', { class: 'ladder-box', 'data-curve': c });
        return h('figure', { class: 'ladder' }, h('figcaption', { class: 'mono' }, c), box);
      })) : null);
    body.dataset.scenario = chosen;
    for (const fig of body.querySelectorAll('.ladder-box')) {
      const ladder = kr[fig.dataset.curve];
      mountChart(fig, (width) => ladderChart(ladder, { width }));
    }
  };
  el.update = (summary, scenarioIds) => {
    const ids = scenarioIds.filter((id) => ladderOf(summary, id));
    if (!ids.length) {
      el.hidden = true;
      return;
    }
    if (!ids.includes(chosen)) chosen = ids.includes('BASE') ? 'BASE' : ids[0];
    last = summary;
    const sel = select('scenario', ids, chosen, { id: 'kr01-scenario' });
    sel.addEventListener('change', () => {
      chosen = sel.value;
      draw();
    });
    replace(picker, field('Scenario', sel));
    el.hidden = false;
    draw();
  };
  return el;
}
