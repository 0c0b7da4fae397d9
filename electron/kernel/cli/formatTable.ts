/** Plain aligned columns for terminal output; machine-readable output is `--json`. */

/**
 * `wrap`: a long text (the server's words, an error) is wrapped at word boundaries to this
 * many characters, on lines of its own below the row's first, never cut.
 */
export type Column<T> = { header: string; value: (row: T) => string; align?: 'left' | 'right'; wrap?: number };

/** `text` in lines of at most `width` characters, broken between words (a word longer than the line is split). */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    let rest = word;
    while (rest.length > width) {
      if (line !== '') {
        lines.push(line);
        line = '';
      }
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    }
    if (line === '') line = rest;
    else if (line.length + 1 + rest.length <= width) line += ` ${rest}`;
    else {
      lines.push(line);
      line = rest;
    }
  }
  if (line !== '' || lines.length === 0) lines.push(line);
  return lines;
}

export function formatTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  // Each row as one or more lines of cells: a wrapped column continues below, the others blank.
  const rowLines = rows.map((row) => {
    const cells = columns.map((c) => (c.wrap === undefined ? [c.value(row)] : wrapText(c.value(row), c.wrap)));
    const height = Math.max(...cells.map((lines) => lines.length));
    return Array.from({ length: height }, (_, i) => cells.map((lines) => lines[i] ?? ''));
  });
  const allLines = rowLines.flat();
  const widths = columns.map((c, i) => Math.max(c.header.length, ...allLines.map((r) => (r[i] ?? '').length)));
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => (columns[i]?.align === 'right' ? v.padStart(widths[i] ?? 0) : v.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...allLines.map(line)].join('\n');
}
