/**
 * A small Prometheus registry and the text exposition format 0.0.4, enough for the
 * agent's counters, gauges and one histogram without a dependency.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */
export type Labels = Readonly<Record<string, string>>;
export type MetricType = 'counter' | 'gauge' | 'histogram';
export type Sample = { labels?: Labels; value: number; suffix?: string };
export type MetricFamily = { name: string; help: string; type: MetricType; samples: Sample[] };

export const exposition = 'text/plain; version=0.0.4; charset=utf-8';

function escapeLabel(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

function escapeHelp(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('\n', '\\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/** Renders families as exposition text (each family once, HELP and TYPE first). */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(`${family.name}${sample.suffix ?? ''}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
  return `${lines.join('\n')}\n`;
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
}

export type Counter = { inc(labels?: Labels, by?: number): void; get(labels?: Labels): number; family(): MetricFamily };

/** A counter; `preset` label sets are reported as 0 before they first happen. */
export function createCounter(name: string, help: string, preset: readonly Labels[] = []): Counter {
  const values = new Map<string, { labels: Labels; value: number }>();
  for (const labels of preset) values.set(labelKey(labels), { labels, value: 0 });
  return {
    inc(labels = {}, by = 1) {
      const key = labelKey(labels);
      const entry = values.get(key);
      if (entry === undefined) values.set(key, { labels, value: by });
      else entry.value += by;
    },
    get(labels = {}) {
      return values.get(labelKey(labels))?.value ?? 0;
    },
    family() {
      const samples = [...values.values()].map((e) => ({ labels: e.labels, value: e.value }));
      return { name, help, type: 'counter', samples: samples.length === 0 ? [{ value: 0 }] : samples };
    },
  };
}

export type Histogram = { observe(labels: Labels, value: number): void; family(): MetricFamily };

/** A cumulative histogram with fixed upper bounds. */
export function createHistogram(name: string, help: string, buckets: readonly number[]): Histogram {
  const bounds = [...buckets].sort((a, b) => a - b);
  const series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  return {
    observe(labels, value) {
      const key = labelKey(labels);
      let entry = series.get(key);
      if (entry === undefined) {
        entry = { labels, counts: bounds.map(() => 0), sum: 0, count: 0 };
        series.set(key, entry);
      }
      for (let i = 0; i < bounds.length; i++) if (value <= (bounds[i] ?? Infinity)) entry.counts[i] = (entry.counts[i] ?? 0) + 1;
      entry.sum += value;
      entry.count++;
    },
    family() {
      const samples: Sample[] = [];
      for (const entry of series.values()) {
        bounds.forEach((bound, i) => samples.push({ suffix: '_bucket', labels: { ...entry.labels, le: formatValue(bound) }, value: entry.counts[i] ?? 0 }));
        samples.push({ suffix: '_bucket', labels: { ...entry.labels, le: '+Inf' }, value: entry.count });
        samples.push({ suffix: '_sum', labels: entry.labels, value: entry.sum });
        samples.push({ suffix: '_count', labels: entry.labels, value: entry.count });
      }
      return { name, help, type: 'histogram', samples };
    },
  };
}

/** A gauge family from values known at scrape time. */
export function gauge(name: string, help: string, samples: Sample[] | number): MetricFamily {
  return { name, help, type: 'gauge', samples: typeof samples === 'number' ? [{ value: samples }] : samples };
}
