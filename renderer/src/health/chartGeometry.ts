/**
 * The geometry the health charts share, kept free of uPlot and the DOM so it can be tested:
 * where a line must break (a gap in samples is a gap, never a ramp), which time span an
 * axis shows when there is only one point, how wide an axis must be for its labels, and
 * how a value reads with its unit.
 */

/** x values in seconds, then one column per series (uPlot's aligned data, as plain arrays). */
export type Columns = { xs: number[]; ys: (number | null)[][] };

/**
 * Breaks the lines wherever two neighbouring samples are further apart than `maxStepSeconds`:
 * a null row is inserted just after the earlier sample, so a line stops there and starts again
 * at the later one. uPlot draws nulls as gaps (spanGaps is off); without the null it would
 * draw a straight ramp across the missing time, as if it had been measured.
 */
export function splitGaps(columns: Columns, maxStepSeconds: number): Columns {
  const xs: number[] = [];
  const ys: (number | null)[][] = columns.ys.map(() => []);
  for (let i = 0; i < columns.xs.length; i++) {
    const x = columns.xs[i] ?? 0;
    const previous = i > 0 ? columns.xs[i - 1] : undefined;
    if (previous !== undefined && x - previous > maxStepSeconds) {
      xs.push(previous + maxStepSeconds / 2);
      for (const column of ys) column.push(null);
    }
    xs.push(x);
    columns.ys.forEach((column, j) => ys[j]?.push(column[i] ?? null));
  }
  return { xs, ys };
}

/**
 * The x range to show: the data's own when it spans at least `minSpanSeconds`, else a window
 * of that width. `anchor: 'end'` keeps the newest point at the right edge (a live chart that
 * fills from the right); `'centre'` puts a lone point in the middle (one pulled minute must
 * be a visible point in a sensible window, not a dot on an axis from 2027 to 2029).
 */
export function timeDomain(min: number | null, max: number | null, minSpanSeconds: number, anchor: 'end' | 'centre'): [number, number] | null {
  if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return null;
  const span = max - min;
  if (span >= minSpanSeconds) return [min, max];
  if (anchor === 'end') return [max - minSpanSeconds, max];
  const pad = (minSpanSeconds - span) / 2;
  return [min - pad, max + pad];
}

/**
 * Whether a point stands alone (no neighbour with a value on either side): such a point is a
 * line of zero length and would not be drawn at all unless it is drawn as a dot.
 */
export function isLonePoint(values: ArrayLike<number | null | undefined>, index: number): boolean {
  if (values[index] === null || values[index] === undefined) return false;
  const before = values[index - 1];
  const after = values[index + 1];
  return (before === null || before === undefined) && (after === null || after === undefined);
}

/** The indices of the lone points in a column (for uPlot's points.filter), or null when there are none. */
export function lonePoints(values: ArrayLike<number | null | undefined>): number[] | null {
  const lone: number[] = [];
  for (let i = 0; i < values.length; i++) if (isLonePoint(values, i)) lone.push(i);
  return lone.length === 0 ? null : lone;
}

const compact = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });
const grouped = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A value as an axis or a hover reads it, with its unit: "86 °C", "12 %", "1.2 M records". */
export function formatWithUnit(value: number, unit: string): string {
  const magnitude = Math.abs(value);
  const figure =
    magnitude >= 1_000_000 ? `${compact.format(value / 1_000_000)} M` : magnitude >= 10_000 ? `${compact.format(value / 1000)} k` : magnitude >= 100 ? grouped.format(value) : compact.format(value);
  return `${figure} ${unit}`;
}

/**
 * How wide (CSS pixels) a y axis must be so that none of its labels is cut: the widest label
 * as `measure` finds it (the canvas's own text metrics), plus the tick and a margin. Never
 * narrower than `minimum`, so axes do not jitter while the values are small.
 */
export function axisWidth(labels: readonly string[], measure: (label: string) => number, minimum = 40): number {
  const widest = labels.reduce((most, label) => Math.max(most, measure(label)), 0);
  return Math.max(minimum, Math.ceil(widest) + 16);
}
