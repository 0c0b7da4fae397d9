import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { HealthThresholds } from '../../../shared/fleetHealth.ts';
import type { HealthSample } from '../../../shared/health.ts';
import { lonePoints } from './chartGeometry.ts';
import { chartColours, hoverReadout, timeAxis, timeRange, valueAxis, type ChartColours } from './chartParts.ts';
import { chartData, chartSpecs, type ChartSpec } from './healthCharts.ts';

/** Where the charts read their samples; `subscribe` is told when samples were added. */
export type ChartFeed = {
  samples(): readonly HealthSample[];
  subscribe(listener: () => void): () => void;
};

const chartHeight = 150;
const minSpanSeconds = 60;

/**
 * The device page's per-second charts (uPlot, canvas). React renders the frames once;
 * new samples reach the canvases through `setData`, at most once per animation frame,
 * never through a React render.
 */
export function HealthCharts({ feed, thresholds }: { feed: ChartFeed; thresholds: HealthThresholds }) {
  const holders = useRef(new Map<string, HTMLDivElement>());
  const latest = useRef(new Map<string, HTMLSpanElement>());

  useEffect(() => {
    const colours = chartColours();
    const plots: { spec: ChartSpec; plot: uPlot }[] = [];
    for (const spec of chartSpecs) {
      const holder = holders.current.get(spec.id);
      if (holder === undefined) continue;
      const plot = new uPlot(chartOptions(spec, holder.clientWidth, colours), chartData(spec, feed.samples(), thresholds), holder);
      plots.push({ spec, plot });
    }

    let frame: number | null = null;
    function draw(): void {
      frame = null;
      const samples = feed.samples();
      for (const { spec, plot } of plots) {
        plot.setData(chartData(spec, samples, thresholds));
        // How many points are drawn, for tests and the bench to see the charts move.
        plot.root.dataset.points = String(samples.length);
        plot.root.dataset.lastAt = String(samples[samples.length - 1]?.at_ms ?? '');
        const label = latest.current.get(spec.id);
        if (label !== undefined) label.textContent = latestText(spec, samples[samples.length - 1] ?? null, thresholds);
      }
    }
    draw();
    const unsubscribe = feed.subscribe(() => {
      frame ??= requestAnimationFrame(draw);
    });

    const resize = new ResizeObserver(() => {
      for (const { spec, plot } of plots) {
        const holder = holders.current.get(spec.id);
        if (holder !== undefined && holder.clientWidth > 0 && holder.clientWidth !== plot.width) plot.setSize({ width: holder.clientWidth, height: chartHeight });
      }
    });
    for (const holder of holders.current.values()) resize.observe(holder);

    return () => {
      unsubscribe();
      resize.disconnect();
      if (frame !== null) cancelAnimationFrame(frame);
      for (const { plot } of plots) plot.destroy();
    };
  }, [feed, thresholds]);

  return (
    <div className="health-charts" data-testid="health-charts">
      {chartSpecs.map((spec) => (
        <figure key={spec.id} className="health-chart" data-chart={spec.id}>
          <figcaption>
            <span className="chart-title">{spec.title}</span>
            {spec.series.length > 1 && (
              <span className="chart-key" aria-hidden="true">
                {spec.series.map((series) => (
                  <span key={series.label} className="chart-key-item">
                    <span className={series.dashed === true ? 'chart-swatch is-dashed' : 'chart-swatch'} style={{ borderTopColor: series.color }} />
                    {series.label}
                  </span>
                ))}
              </span>
            )}
            <span
              className="chart-latest num"
              ref={(node) => {
                if (node === null) latest.current.delete(spec.id);
                else latest.current.set(spec.id, node);
              }}
            />
          </figcaption>
          <div
            className="chart-canvas"
            ref={(node) => {
              if (node === null) holders.current.delete(spec.id);
              else holders.current.set(spec.id, node);
            }}
          />
        </figure>
      ))}
    </div>
  );
}

function chartOptions(spec: ChartSpec, width: number, colours: ChartColours): uPlot.Options {
  return {
    width: Math.max(200, width),
    height: chartHeight,
    scales: {
      // At least a minute wide, newest at the right, so the first seconds read as seconds.
      x: { time: true, range: timeRange(minSpanSeconds, 'end') },
      y: spec.range === undefined ? { auto: true } : { range: [spec.range[0], spec.range[1]] },
    },
    series: [
      {},
      ...spec.series.map((series) => ({
        label: series.label,
        stroke: series.color,
        width: series.dashed === true ? 1 : 1.5,
        // A threshold is a setting, not a measurement: its line does not break where samples are missing.
        ...(series.dashed === true ? { dash: [6, 4], spanGaps: true } : {}),
        // A sample with no neighbour (just after a gap) is a dot, else it would not be drawn at all.
        points: { show: false, size: 5, filter: (u: uPlot, seriesIdx: number) => lonePoints(u.data[seriesIdx] ?? []) },
      })),
    ],
    axes: [timeAxis(colours), valueAxis(colours, spec.unit)],
    // The caption says what each line is and its newest value; the hover readout says it at the cursor.
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    plugins: [hoverReadout(spec.series.map((series) => ({ label: series.label, unit: spec.unit })))],
  };
}

const figure = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** The newest value of each line, in the chart's unit, thresholds after ("SoC 86 °C · warning 80 · critical 85"). */
function latestText(spec: ChartSpec, sample: HealthSample | null, thresholds: HealthThresholds): string {
  if (sample === null) return 'no samples yet';
  const value = (series: ChartSpec['series'][number]): string => {
    const v = series.value(sample, thresholds);
    return v === null ? '—' : figure.format(v);
  };
  const lines = spec.series.filter((series) => series.dashed !== true);
  const limits = spec.series.filter((series) => series.dashed === true);
  const main = lines.map((series) => `${lines.length > 1 ? `${series.label} ` : ''}${value(series)}`).join(' · ');
  return [`${main} ${spec.unit}`, ...limits.map((series) => `${series.label} ${value(series)}`)].join(' · ');
}
