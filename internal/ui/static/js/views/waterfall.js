// waterfall.js: the P&L explain's waterfall (SPEC §4.5) as a column
// chart: the first run's PV, each step of the explain floating from where
// the previous one ended, the carry cashflows leaving the book, and the
// second run's PV.

import { fmtNum, niceTicks, s } from '../render.js';

/** The seven steps of the explain, in the order they are valued. */
export const STEPS = [
  ['carry', 'Carry'], ['rates', 'Rates'], ['spread', 'Spread'], ['fx', 'FX'],
  ['amendments', 'Amendments'], ['new', 'New'], ['matured', 'Matured'],
];

/**
 * The bars of the waterfall of one explain item: from_pv (from zero), the
 * seven steps (each from the level the previous one reached), the carry
 * cashflows taken out (they are in carry but not in to_pv), and to_pv
 * (from zero). Each bar is {key, label, value, lo, hi, whole}; the last
 * step ends at from_pv + total − carry_cashflows, which is to_pv up to
 * rounding.
 */
export function waterfallBars(it) {
  const bars = [{ key: 'from_pv', label: 'From PV', value: it.from_pv, lo: 0, hi: it.from_pv, whole: true }];
  let level = it.from_pv;
  const step = (key, label, value) => {
    bars.push({ key, label, value, lo: level, hi: level + value, whole: false });
    level += value;
  };
  for (const [k, label] of STEPS) step(k, label, it[k]);
  step('carry_cashflows', 'Cashflows', -it.carry_cashflows);
  bars.push({ key: 'to_pv', label: 'To PV', value: it.to_pv, lo: 0, hi: it.to_pv, whole: true });
  return bars;
}

/**
 * The range of the value axis: every level the bars reach; zero too
 * unless the levels are far from it (a book's PV dwarfs its day's steps,
 * so the whole bars then start at the axis' floor, which the chart says).
 */
export function waterfallRange(bars) {
  const levels = bars.flatMap((b) => (b.whole ? [b.hi] : [b.lo, b.hi]));
  let lo = Math.min(...levels);
  let hi = Math.max(...levels);
  if (lo > 0 && lo < hi - lo) lo = 0;
  if (hi < 0 && -hi < hi - lo) hi = 0;
  const ticks = niceTicks(lo, hi, 5);
  return { ticks, lo: ticks[0], hi: ticks[ticks.length - 1] };
}

/**
 * The chart of waterfallBars(item): rect.bar elements carry data-key (the
 * component) and data-value (the exact number); negative steps are in the
 * negative colour, the whole PVs in their own; dashed lines join a bar's
 * end to the next bar's start.
 */
export function waterfallChart(item, { width = 760, height = 300, format = (v) => fmtNum(v) } = {}) {
  const bars = waterfallBars(item);
  const { ticks, lo, hi } = waterfallRange(bars);
  const m = { left: 96, right: 10, top: 22, bottom: 30 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sy = (y) => m.top + (1 - (y - lo) / (hi - lo || 1)) * ph;
  const clamp = (y) => Math.min(hi, Math.max(lo, y));
  const band = pw / bars.length;
  const svg = s('svg', { class: 'chart waterfall-chart', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img' });
  const digits = ticks.every((t) => Number.isInteger(t)) ? 0 : 2;
  for (const t of ticks) {
    svg.appendChild(s('line', { class: 'grid', x1: m.left, x2: width - m.right, y1: sy(t), y2: sy(t) }));
    svg.appendChild(s('text', { x: m.left - 6, y: sy(t) + 4, 'text-anchor': 'end' }, fmtNum(t, digits)));
  }
  bars.forEach((b, i) => {
    const cx = m.left + band * (i + 0.5);
    svg.appendChild(s('text', { x: cx, y: height - m.bottom + 16, 'text-anchor': 'middle' }, b.label));
    const from = b.whole ? clamp(0) : b.lo;
    const y1 = sy(from);
    const y2 = sy(b.hi);
    const cls = b.whole ? 'bar whole' : `bar${b.value < 0 ? ' neg' : ''}`;
    svg.appendChild(s('rect', {
      class: cls, x: (cx - band * 0.32).toFixed(1), y: Math.min(y1, y2).toFixed(1),
      width: (band * 0.64).toFixed(1), height: Math.max(1, Math.abs(y2 - y1)).toFixed(1), rx: 1.5,
      'data-key': b.key, 'data-value': String(b.value), 'data-lo': String(b.lo), 'data-hi': String(b.hi),
    }, s('title', null, `${b.label}: ${format(b.value)}`)));
    const next = bars[i + 1];
    if (next && !next.whole) {
      svg.appendChild(s('line', {
        class: 'connector', x1: (cx + band * 0.32).toFixed(1), x2: (cx + band * 0.68).toFixed(1), y1: sy(b.hi), y2: sy(b.hi),
      }));
    }
  });
  if (lo > 0 || hi < 0) {
    svg.appendChild(s('text', { class: 'axis-note', x: m.left, y: 12 }, `The value axis is cut: it spans ${fmtNum(lo, digits)} to ${fmtNum(hi, digits)}, not zero.`));
  }
  if (lo <= 0 && hi >= 0) svg.appendChild(s('line', { class: 'axis', x1: m.left, x2: width - m.right, y1: sy(0), y2: sy(0) }));
  return svg;
}
