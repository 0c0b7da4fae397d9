/**
 * uPlot parts both health charts use: axes that carry their unit and are as wide as their
 * widest label, and a hover readout that says the time and each line's value there.
 */
import type uPlot from 'uplot';
import { axisWidth, formatWithUnit, timeDomain } from './chartGeometry.ts';

export type ChartColours = { axis: string; grid: string };

const axisFont = '11px system-ui, sans-serif';
const clockTime = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
const clockMinute = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayAndMinute = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const day = 86_400;

export function chartColours(): ChartColours {
  const style = getComputedStyle(document.documentElement);
  return { axis: style.getPropertyValue('--text-muted').trim() || '#4a5361', grid: style.getPropertyValue('--border').trim() || '#c6ccd4' };
}

function baseAxis(colours: ChartColours): uPlot.Axis {
  return { stroke: colours.axis, grid: { stroke: colours.grid, width: 1 }, ticks: { stroke: colours.grid, width: 1 }, font: axisFont };
}

/**
 * The x range from the data itself (see timeDomain). Not from the min and max uPlot passes:
 * for a single point on a time scale uPlot makes the max 86,400 / 0.001 s later — 1,000 days,
 * the "axis from 2027 to 2029" one pulled minute used to get.
 */
export function timeRange(minSpanSeconds: number, anchor: 'end' | 'centre'): uPlot.Range.Function {
  return (u, min, max) => {
    const xs = u.data[0];
    return timeDomain(xs[0] ?? null, xs[xs.length - 1] ?? null, minSpanSeconds, anchor) ?? [min, max];
  };
}

/** A time axis in local clock time; seconds only while the window is short, the date once it spans days. */
export function timeAxis(colours: ChartColours): uPlot.Axis {
  return {
    ...baseAxis(colours),
    values: (u, splits) => {
      const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
      const format = span > day ? dayAndMinute : span > 10 * 60 ? clockMinute : clockTime;
      return splits.map((at) => format.format(at * 1000));
    },
  };
}

/** A y axis whose every label carries the unit, sized to its widest label so none is cut. */
export function valueAxis(colours: ChartColours, unit: string, options: { scale?: string; right?: boolean; grid?: boolean } = {}): uPlot.Axis {
  const axis = baseAxis(colours);
  return {
    ...axis,
    ...(options.scale === undefined ? {} : { scale: options.scale }),
    // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- uPlot's Side is a const enum, which isolatedModules cannot import; 1 is its Right
    ...(options.right === true ? { side: 1 } : {}),
    ...(options.grid === false ? { grid: { show: false } } : {}),
    values: (_u, splits) => splits.map((value) => formatWithUnit(value, unit)),
    size: (u, values: readonly string[] | null) => {
      // uPlot asks once before it has any labels (values is null then, despite its types).
      if (values === null) return axisWidth([], () => 0);
      const context = u.ctx;
      context.save();
      context.font = axisFont;
      const width = axisWidth(values, (label) => context.measureText(label).width);
      context.restore();
      return width;
    },
  };
}

/** One line in the hover readout; `onlyWhenPresent` lines (marks such as "throttled") are left out where they have no value. */
export type HoverLine = { label: string; unit: string; onlyWhenPresent?: boolean };

/**
 * A readout over the plot that follows the cursor: the time under it and each line's value
 * there ("21:07:31 · SoC 54.2 °C · warning 80 °C"), or "no sample" in a gap. Hidden when the
 * cursor leaves. `data-testid="chart-hover"` lets tests read it.
 */
export function hoverReadout(lines: readonly HoverLine[]): uPlot.Plugin {
  let readout: HTMLDivElement | null = null;
  return {
    hooks: {
      init: (u) => {
        readout = document.createElement('div');
        readout.className = 'chart-hover';
        readout.dataset.testid = 'chart-hover';
        readout.hidden = true;
        u.over.appendChild(readout);
      },
      // The x range drawn, in seconds, on the chart's root: tests check what the axis spans.
      setScale: (u, key) => {
        if (key !== 'x') return;
        u.root.dataset.xMin = String(u.scales.x?.min ?? '');
        u.root.dataset.xMax = String(u.scales.x?.max ?? '');
      },
      setCursor: (u) => {
        if (readout === null) return;
        const index = u.cursor.idx;
        const x = index === null || index === undefined ? undefined : u.data[0][index];
        if (index === null || index === undefined || x === undefined) {
          readout.hidden = true;
          return;
        }
        readout.hidden = false;
        readout.textContent = hoverText(u, index, x, lines);
        const left = u.cursor.left ?? 0;
        // Keep the readout inside the plot: right of the cursor in the left half, left of it in the right half.
        const flip = left > u.over.clientWidth / 2;
        readout.style.left = flip ? '' : `${String(left + 10)}px`;
        readout.style.right = flip ? `${String(u.over.clientWidth - left + 10)}px` : '';
      },
    },
  };
}

function hoverText(u: uPlot, index: number, x: number, lines: readonly HoverLine[]): string {
  const values = lines.flatMap((line, j) => {
    const value = u.data[j + 1]?.[index];
    const missing = value === null || value === undefined;
    if (line.onlyWhenPresent === true) return missing ? [] : [line.label];
    return [`${line.label} ${missing ? 'no sample' : formatWithUnit(value, line.unit)}`];
  });
  const span = (u.scales.x?.max ?? 0) - (u.scales.x?.min ?? 0);
  return [(span > day ? dayAndMinute : clockTime).format(x * 1000), ...values].join(' · ');
}
