import { describe, expect, it } from 'vitest';
import { createCounter, createHistogram, gauge, renderExposition } from '../../agent/ingest/prometheusText.ts';

describe('prometheus text exposition', () => {
  it('renders HELP, TYPE, escaped labels, counters with presets and cumulative histograms', () => {
    const counter = createCounter('x_total', 'Things\\counted\nhere.', [{ reason: 'a' }]);
    counter.inc({ reason: 'b' }, 2);
    counter.inc({ reason: 'b' });
    const histogram = createHistogram('d_seconds', 'Durations.', [0.1, 1]);
    histogram.observe({ route: '/x' }, 0.05);
    histogram.observe({ route: '/x' }, 0.5);
    histogram.observe({ route: '/x' }, 5);
    const text = renderExposition([counter.family(), histogram.family(), gauge('g', 'A gauge.', [{ labels: { path: 'a"b\\c\nd' }, value: NaN }])]);
    expect(text).toBe(
      [
        '# HELP x_total Things\\\\counted\\nhere.',
        '# TYPE x_total counter',
        'x_total{reason="a"} 0',
        'x_total{reason="b"} 3',
        '# HELP d_seconds Durations.',
        '# TYPE d_seconds histogram',
        'd_seconds_bucket{route="/x",le="0.1"} 1',
        'd_seconds_bucket{route="/x",le="1"} 2',
        'd_seconds_bucket{route="/x",le="+Inf"} 3',
        'd_seconds_sum{route="/x"} 5.55',
        'd_seconds_count{route="/x"} 3',
        '# HELP g A gauge.',
        '# TYPE g gauge',
        'g{path="a\\"b\\\\c\\nd"} NaN',
        '',
      ].join('\n'),
    );
  });
});
