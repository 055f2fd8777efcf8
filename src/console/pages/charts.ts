// The console's pictures: bar charts drawn on the server as inline SVG (no script, no inline style: the CSP allows
// neither; colours come from the stylesheet's .chart classes). Each is a <figure> whose SVG is an image with a title
// and a description that say what it shows in words, followed by the same numbers in a table, inside <details>,
// for whoever cannot see the picture.
import { esc, table } from '../html.js';

const HOUR_MS = 3_600_000;

/** One stacked part of a bar. */
export interface Series {
  key: string;
  label: string;
  className: 'bar-ok' | 'bar-bad' | 'bar-calls';
}

/** A time slot with something in it: its start (epoch ms), a value per series, and the line's value if any. */
export interface Bucket {
  start: number;
  values: Record<string, number>;
  line: number | null;
}

export interface TimeChartOptions {
  /** Unique on the page: the prefix of the SVG's title and description ids. */
  id: string;
  title: string;
  /** What the chart shows, in one or two sentences with the totals (the SVG's description). */
  summary: string;
  /** The first slot's start and the end of the window (epoch ms); slots are hours. */
  since: number;
  until: number;
  /** Stacked bottom to top. */
  series: Series[];
  /** Slots with something in them (the others are empty). */
  buckets: Bucket[];
  /** A line over the bars, on a scale of its own (right axis): latency, say. */
  line?: { label: string; unit: string };
  /** The numbers behind the picture. */
  table: { caption: string; headers: string[]; rows: string[][] };
}

const W = 760;
const H = 240;
const M = { left: 44, right: 52, top: 26, bottom: 50 };

/** 1, 2 or 5 times a power of ten, at least `value`: an axis maximum a person reads at a glance. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

const round = (n: number) => Math.round(n * 10) / 10;
const number = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));

/** "Mar 24 10:00" (UTC), for slot labels. */
export function hourLabel(ms: number): string {
  const d = new Date(ms);
  return `${d.toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' })} ${d.getUTCDate()} ${String(d.getUTCHours()).padStart(2, '0')}:00`;
}

/** Stacked bars per hour over the window, with an optional line: an SVG in a figure, and its numbers in a table. */
export function timeChart(o: TimeChartOptions): string {
  const slots = Math.max(1, Math.ceil((o.until - o.since) / HOUR_MS));
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const slotW = plotW / slots;
  const barW = Math.max(1, slotW * 0.8);
  const totals = o.buckets.map((b) => o.series.reduce((sum, s) => sum + (b.values[s.key] ?? 0), 0));
  const yMax = niceCeiling(Math.max(0, ...totals));
  const lineValues = o.buckets.map((b) => b.line).filter((v): v is number => v !== null);
  const lineMax = niceCeiling(Math.max(0, ...lineValues));
  const x = (start: number) => M.left + Math.floor((start - o.since) / HOUR_MS) * slotW;
  const y = (value: number, max: number) => M.top + plotH - (value / max) * plotH;
  const baseline = M.top + plotH;

  const bars = o.buckets
    .map((bucket) => {
      let top = baseline;
      return o.series
        .filter((s) => (bucket.values[s.key] ?? 0) > 0)
        .map((s) => {
          const value = bucket.values[s.key]!;
          const height = Math.max(1, (value / yMax) * plotH);
          top -= height;
          return `<rect class="${s.className}" x="${round(x(bucket.start) + (slotW - barW) / 2)}" y="${round(top)}" width="${round(barW)}" height="${round(height)}"><title>${esc(`${hourLabel(bucket.start)} UTC: ${value} ${s.label}`)}</title></rect>`;
        })
        .join('');
    })
    .join('');

  const linePoints = o.line
    ? o.buckets.filter((b) => b.line !== null).map((b) => `${round(x(b.start) + slotW / 2)},${round(y(b.line!, lineMax))}`)
    : [];
  const line = !o.line || !linePoints.length
    ? ''
    : linePoints.length === 1
      ? `<circle class="line" cx="${linePoints[0]!.split(',')[0]}" cy="${linePoints[0]!.split(',')[1]}" r="3"></circle>`
      : `<polyline class="line" points="${linePoints.join(' ')}"></polyline>`;

  // Left axis: the bars' scale; right axis: the line's; bottom: a label at each day's start (or every 6 hours).
  // Counts: a middle tick only where it is a whole number.
  const yTicks = (Number.isInteger(yMax / 2) ? [0, yMax / 2, yMax] : [0, yMax])
    .map((v) => `<text x="${M.left - 6}" y="${round(y(v, yMax) + 4)}" text-anchor="end">${number(v)}</text><line class="axis" x1="${M.left - 3}" x2="${M.left}" y1="${round(y(v, yMax))}" y2="${round(y(v, yMax))}"></line>`)
    .join('');
  const lineTicks = o.line && lineValues.length
    ? [0, lineMax / 2, lineMax].map((v) => `<text x="${W - M.right + 6}" y="${round(y(v, lineMax) + 4)}">${number(v)}</text>`).join('') +
      `<text x="${W - M.right + 6}" y="${M.top - 12}">${esc(o.line.unit)}</text>`
    : '';
  const every = slots > 48 ? 24 : 6;
  const xTicks: string[] = [];
  for (let i = 0; i < slots; i++) {
    const start = o.since + i * HOUR_MS;
    if (new Date(start).getUTCHours() % every !== 0) continue;
    const d = new Date(start);
    const label = every === 24 ? `${d.toLocaleString('en-GB', { month: 'short', timeZone: 'UTC' })} ${d.getUTCDate()}` : `${String(d.getUTCHours()).padStart(2, '0')}:00`;
    xTicks.push(`<line class="axis" x1="${round(x(start))}" x2="${round(x(start))}" y1="${baseline}" y2="${baseline + 4}"></line><text x="${round(x(start))}" y="${baseline + 16}" text-anchor="middle">${esc(label)}</text>`);
  }

  // The legend, under the axis: a swatch and a name per series (and the line).
  const legendItems = [...o.series.map((s) => ({ swatch: `<rect class="${s.className}" width="12" height="12"></rect>`, label: s.label })), ...(o.line ? [{ swatch: '<line class="line" x1="0" x2="12" y1="6" y2="6"></line>', label: o.line.label }] : [])];
  const legend = legendItems
    .map((item, i) => `<g transform="translate(${M.left + i * 170},${H - 16})">${item.swatch}<text x="18" y="11">${esc(item.label)}</text></g>`)
    .join('');

  const titleId = `${o.id}-title`;
  const descId = `${o.id}-desc`;
  return `<figure class="chart" id="${esc(o.id)}">
<figcaption>${esc(o.title)}</figcaption>
<svg role="img" aria-labelledby="${titleId} ${descId}" viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" data-slots="${slots}">
<title id="${titleId}">${esc(o.title)}</title>
<desc id="${descId}">${esc(o.summary)}</desc>
<line class="axis" x1="${M.left}" x2="${W - M.right}" y1="${baseline}" y2="${baseline}"></line>
<line class="axis" x1="${M.left}" x2="${M.left}" y1="${M.top}" y2="${baseline}"></line>
${yTicks}${lineTicks}${xTicks.join('')}
<g class="bars">${bars}</g>
${line}
${legend}
</svg>
<details><summary>The numbers of “${esc(o.title)}”</summary>
${table(o.table.caption, o.table.headers, o.table.rows, 'Nothing in this window.')}
</details>
</figure>`;
}
