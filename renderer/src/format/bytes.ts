/**
 * Sizes in decimal units (1 GB = 10^9 bytes), as drive vendors print them on the label:
 * a "32 GB" card shows as 31.9 GB here, not 29.7 GiB, so the technician recognises it.
 */
const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

/** 31914983424 → "31.9 GB"; one decimal from kB up. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  // 999.96 GB would print as "1000.0 GB"; move up a unit instead.
  if (unit > 0 && unit < units.length - 1 && Number(value.toFixed(1)) >= 1000) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit] ?? ''}`;
}

const exact = new Intl.NumberFormat('en-US');

/** 31914983424 → "31,914,983,424 bytes", for tooltips where the exact size matters. */
export function formatExactBytes(bytes: number): string {
  return `${exact.format(bytes)} bytes`;
}

/** 85300000 → "85.3 MB/s"; always MB/s so a column of rates lines up. */
export function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1e6).toFixed(1)} MB/s`;
}
