/**
 * What the device page charts, one entry per chart: its series and how each is read from
 * a sample. `chartData` turns the sample window into uPlot's columns (x in seconds).
 */
import type uPlot from 'uplot';
import type { HealthThresholds } from '../../../shared/fleetHealth.ts';
import type { HealthSample } from '../../../shared/health.ts';
import { fullestDisk, memoryUsedPercent } from './healthText.ts';

export type SeriesSpec = {
  label: string;
  color: string;
  value: (sample: HealthSample, thresholds: HealthThresholds) => number | null;
  /** Threshold lines are dashed and have no points. */
  dashed?: boolean;
};

export type ChartSpec = {
  id: string;
  title: string;
  unit: string;
  /** A fixed y range when the quantity has one (percentages), else auto. */
  range?: readonly [number, number];
  series: readonly SeriesSpec[];
};

const blue = '#1f6fd1';
const orange = '#d9731a';
const amber = '#c98a00';
const red = '#c62828';

export const chartSpecs: readonly ChartSpec[] = [
  { id: 'cpu', title: 'CPU', unit: '%', range: [0, 100], series: [{ label: 'CPU', color: blue, value: (s) => s.cpu_pct }] },
  {
    id: 'temp',
    title: 'Temperature',
    unit: '°C',
    series: [
      { label: 'SoC', color: orange, value: (s) => s.temp_c },
      { label: 'warning', color: amber, value: (_s, t) => t.tempWarningC, dashed: true },
      { label: 'critical', color: red, value: (_s, t) => t.tempCriticalC, dashed: true },
    ],
  },
  { id: 'memory', title: 'Memory used', unit: '%', range: [0, 100], series: [{ label: 'memory', color: '#6a4fc9', value: (s) => memoryUsedPercent(s) }] },
  {
    id: 'disk',
    title: 'Disk used (fullest)',
    unit: '%',
    range: [0, 100],
    series: [
      { label: 'disk', color: '#2e8b57', value: (s) => fullestDisk(s.disks)?.usedPercent ?? null },
      { label: 'limit', color: amber, value: (_s, t) => t.diskUsedPercent, dashed: true },
    ],
  },
  { id: 'ingest', title: 'Ingest rate', unit: 'records/s', series: [{ label: 'ingest', color: '#00838f', value: (s) => s.journal.ingest_per_s }] },
  {
    id: 'inference',
    title: 'Inference latency',
    unit: 'ms',
    series: [
      { label: 'p50', color: blue, value: (s) => s.inference?.p50_ms ?? null },
      { label: 'p95', color: orange, value: (s) => s.inference?.p95_ms ?? null },
    ],
  },
  { id: 'backlog', title: 'Journal backlog', unit: 'records', series: [{ label: 'backlog', color: '#8d6e63', value: (s) => s.journal.backlog_records }] },
];

/** uPlot's columns for one chart: x (seconds since the epoch), then one column per series. */
export function chartData(spec: ChartSpec, samples: readonly HealthSample[], thresholds: HealthThresholds): uPlot.AlignedData {
  const xs = new Float64Array(samples.length);
  const columns = spec.series.map(() => new Array<number | null>(samples.length));
  for (let i = 0; i < samples.length; i++) {
    const sample = samples[i];
    if (sample === undefined) continue;
    xs[i] = sample.at_ms / 1000;
    for (let j = 0; j < spec.series.length; j++) {
      const column = columns[j];
      const series = spec.series[j];
      if (column !== undefined && series !== undefined) column[i] = series.value(sample, thresholds);
    }
  }
  return [xs, ...columns];
}
