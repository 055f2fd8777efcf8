import { describe, expect, it } from 'vitest';
import { hourLabel, niceCeiling, timeChart } from './charts.js';

const HOUR = 3_600_000;
const since = Date.UTC(2026, 2, 24, 0);

function chart(buckets: Array<{ start: number; values: Record<string, number>; line: number | null }>) {
  return timeChart({
    id: 'c',
    title: 'Calls <per> hour',
    summary: '3 calls & 1 error',
    since,
    until: since + 24 * HOUR,
    series: [
      { key: 'ok', label: 'ok', className: 'bar-calls' },
      { key: 'bad', label: 'errors', className: 'bar-bad' },
    ],
    buckets,
    line: { label: 'latency', unit: 'ms' },
    table: { caption: 'Calls', headers: ['Hour', 'Calls'], rows: [['10:00', '3']] },
  });
}

describe('timeChart', () => {
  it('draws one rect per non-zero part of each bucket, a line through the buckets with a value, and names itself for screen readers', () => {
    const svg = chart([
      { start: since + 2 * HOUR, values: { ok: 2, bad: 1 }, line: 4 },
      { start: since + 5 * HOUR, values: { ok: 1, bad: 0 }, line: 8 },
      { start: since + 6 * HOUR, values: { ok: 0, bad: 3 }, line: null },
    ]);
    const bars = /<g class="bars">(.*?)<\/g>/s.exec(svg)![1]!;
    expect(bars.match(/class="bar-calls"/g)).toHaveLength(2);
    expect(bars.match(/class="bar-bad"/g)).toHaveLength(2);
    expect(svg).toMatch(/<polyline class="line" points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"><\/polyline>/);
    expect(svg).toContain('role="img" aria-labelledby="c-title c-desc"');
    expect(svg).toContain('<title id="c-title">Calls &lt;per&gt; hour</title>');
    expect(svg).toContain('<desc id="c-desc">3 calls &amp; 1 error</desc>');
    expect(svg).toContain('data-slots="24"');
    // The numbers, for whoever cannot see the picture.
    expect(svg).toMatch(/<details><summary>.*<table>.*<td>10:00<\/td><td>3<\/td>/s);
    // No inline style anywhere (the CSP forbids it).
    expect(svg).not.toMatch(/style=/);
  });

  it('draws a lone point as a circle, and an empty window as axes alone', () => {
    expect(chart([{ start: since, values: { ok: 1 }, line: 2 }])).toContain('<circle class="line"');
    const empty = chart([]);
    expect(/<g class="bars">(.*?)<\/g>/s.exec(empty)![1]).toBe('');
    expect(empty).toContain('<text x="38" y="30" text-anchor="end">1</text>');
  });
});

describe('chart helpers', () => {
  it('rounds an axis up to 1, 2 or 5 times a power of ten, and labels hours in UTC', () => {
    expect([0, 1, 3, 7, 12, 99, 101, 2500].map(niceCeiling)).toEqual([1, 1, 5, 10, 20, 100, 200, 5000]);
    expect(hourLabel(Date.UTC(2026, 2, 24, 9))).toBe('Mar 24 09:00');
  });
});
