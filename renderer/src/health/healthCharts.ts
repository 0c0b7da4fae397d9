/**
 * What the device page charts, one entry per chart: its series and how each is read from
 * a sample. `chartData` turns the sample window into uPlot's columns (x in seconds).
 */
import type uPlot from 'uplot';
import type { DeviceHealthHistory, HealthThresholds } from '../../../shared/fleetHealth.ts';
import type { HealthSample } from '../../../shared/health.ts';
import { splitGaps, type Columns } from './chartGeometry.ts';
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

/**
 * Samples come each second; a step longer than this is missing samples (the link dropped, the
 * agent stopped), drawn as a break in the line.
 */
export const liveGapSeconds = 3;

/**
 * uPlot's columns for one chart: x (seconds since the epoch), then one column per series, with
 * a break wherever samples are missing.
 */
export function chartData(spec: ChartSpec, samples: readonly HealthSample[], thresholds: HealthThresholds): uPlot.AlignedData {
  const columns: Columns = { xs: samples.map((sample) => sample.at_ms / 1000), ys: spec.series.map((series) => samples.map((sample) => series.value(sample, thresholds))) };
  const split = splitGaps(columns, liveGapSeconds);
  return [split.xs, ...split.ys];
}

/** Minutes are one apart; a longer step is minutes with no history (the agent was off), drawn as a break. */
export const historyGapSeconds = 90;

/** The per-minute columns, oldest first, broken where minutes are missing. */
export function historyData(history: DeviceHealthHistory): uPlot.AlignedData {
  const minutes = [...history.minutes].sort((a, b) => a.minute_ms - b.minute_ms);
  const split = splitGaps(
    {
      xs: minutes.map((m) => m.minute_ms / 1000),
      ys: [
        minutes.map((m) => m.temp_c_max),
        minutes.map((m) => m.cpu_pct_avg),
        // A dot on the minutes in which the firmware reported any throttling bit.
        minutes.map((m) => (m.throttled_raw_or !== null && m.throttled_raw_or !== 0 ? (m.temp_c_max ?? 0) : null)),
      ],
    },
    historyGapSeconds,
  );
  return [split.xs, ...split.ys];
}
