/**
 * Canonical JSON: the one byte form of every JSON document fieldkit signs (image manifests,
 * agent and model bundle manifests), and the check a verifier runs on the exact signed
 * bytes before it trusts a single field of them.
 *
 * Why: a signature covers bytes, but a reader acts on what it parses. `JSON.parse` keeps the
 * last of two equal keys, other parsers the first, so a duplicate key lets one signed
 * document say two things to two tools. Accepting only the single form the packers write
 * leaves nothing for parsers to disagree on.
 *
 * A document is canonical when, and only when, all of these hold:
 *  1. its bytes are UTF-8, without a byte-order mark;
 *  2. no object has the same key twice, at any depth;
 *  3. every string, keys included, is well-formed Unicode: no lone surrogate, escaped or not;
 *  4. every number is finite, and a whole number is a safe integer (at most 2^53 − 1 either
 *     way): nothing another parser would round to a different value;
 *  5. it nests at most `canonicalJsonMaxDepth` levels;
 *  6. its text is exactly `JSON.stringify(value, null, 2) + '\n'` of the value it parses
 *     to: two-space indentation, LF line ends, one final newline, no other whitespace, and
 *     numbers and strings written as JSON.stringify writes them (`1`, never `1.0`, `1e0` or
 *     `-0`; `"é"`, never `"\u00e9"` or `"\/"`). Key order is the writer's own; (6) pins it
 *     to the order in the bytes.
 *
 * `canonicalJsonText` is the only way the packers serialise what they sign, and refuses a
 * value whose serialisation would fail this check; `parseCanonicalJson` is the check.
 */

import { appError, FieldkitError } from './errors.ts';

export const canonicalJsonMaxDepth = 64;

export type CanonicalJsonResult = { ok: true; value: unknown } | { ok: false; problem: string };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const numberToken = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const escapes: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/** A problem found while scanning: `problem` completes the sentence "the manifest …". */
class NotCanonical extends Error {
  readonly problem: string;
  constructor(problem: string) {
    super(problem);
    this.problem = problem;
  }
}

function where(path: readonly (string | number)[]): string {
  return path.length === 0 ? 'at the top level' : `in ${path.map(String).join('.')}`;
}

/** Line and column (1-based) of character `at`, for problems a reader must find in the file. */
function lineColumn(text: string, at: number): string {
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  return `line ${line}, column ${at - before.lastIndexOf('\n')}`;
}

/**
 * A strict recursive-descent scan of JSON text: it builds nothing (JSON.parse builds the
 * value once the text is known to be unambiguous), it only refuses what rules 2–5 forbid,
 * and what is not JSON at all, saying where.
 */
class Scanner {
  private at = 0;
  private readonly text: string;

  constructor(text: string) {
    this.text = text;
  }

  scanDocument(): void {
    this.skipWhitespace();
    this.scanValue([], 1);
    this.skipWhitespace();
    if (this.at < this.text.length) this.fail(`has more after the end of the JSON value (${lineColumn(this.text, this.at)})`);
  }

  private fail(problem: string): never {
    throw new NotCanonical(problem);
  }

  private notJson(what: string): never {
    this.fail(`is not JSON: ${what} at ${lineColumn(this.text, this.at)}`);
  }

  private skipWhitespace(): void {
    while (this.at < this.text.length && ' \t\n\r'.includes(this.text.charAt(this.at))) this.at++;
  }

  private scanValue(path: (string | number)[], depth: number): void {
    if (depth > canonicalJsonMaxDepth) this.fail(`nests deeper than ${canonicalJsonMaxDepth} levels (${where(path)})`);
    const c = this.text.charAt(this.at);
    if (c === '{') this.scanObject(path, depth);
    else if (c === '[') this.scanArray(path, depth);
    else if (c === '"') this.scanString(path, 'string');
    else if (c === '-' || (c >= '0' && c <= '9')) this.scanNumber(path);
    else if (!this.literal('true') && !this.literal('false') && !this.literal('null')) this.notJson(c === '' ? 'it ends too early' : `unexpected ${JSON.stringify(c)}`);
  }

  private literal(word: string): boolean {
    if (!this.text.startsWith(word, this.at)) return false;
    this.at += word.length;
    return true;
  }

  private expect(c: string, what: string): void {
    if (this.text.charAt(this.at) !== c) this.notJson(`expected ${what}`);
    this.at++;
  }

  private scanObject(path: (string | number)[], depth: number): void {
    this.at++;
    this.skipWhitespace();
    if (this.text.charAt(this.at) === '}') {
      this.at++;
      return;
    }
    const keys = new Set<string>();
    for (;;) {
      this.skipWhitespace();
      if (this.text.charAt(this.at) !== '"') this.notJson('expected a key in quotes');
      const keyAt = this.at;
      const key = this.scanString(path, 'key');
      if (keys.has(key)) this.fail(`has the key ${JSON.stringify(key)} twice ${where(path)} (the second at ${lineColumn(this.text, keyAt)})`);
      keys.add(key);
      this.skipWhitespace();
      this.expect(':', '":" after a key');
      this.skipWhitespace();
      this.scanValue([...path, key], depth + 1);
      this.skipWhitespace();
      if (this.text.charAt(this.at) === '}') {
        this.at++;
        return;
      }
      this.expect(',', '"," or "}"');
    }
  }

  private scanArray(path: (string | number)[], depth: number): void {
    this.at++;
    this.skipWhitespace();
    if (this.text.charAt(this.at) === ']') {
      this.at++;
      return;
    }
    for (let index = 0; ; index++) {
      this.skipWhitespace();
      this.scanValue([...path, index], depth + 1);
      this.skipWhitespace();
      if (this.text.charAt(this.at) === ']') {
        this.at++;
        return;
      }
      this.expect(',', '"," or "]"');
    }
  }

  /** Scans a string token; returns its decoded value. */
  private scanString(path: (string | number)[], what: 'string' | 'key'): string {
    const start = this.at++;
    let value = '';
    for (;;) {
      const c = this.text.charAt(this.at);
      if (c === '') this.notJson('a string that never ends');
      if (c < ' ') this.notJson('a control character inside a string');
      this.at++;
      if (c === '"') break;
      if (c !== '\\') {
        value += c;
        continue;
      }
      const e = this.text.charAt(this.at++);
      const simple = escapes[e];
      if (simple !== undefined) value += simple;
      else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.at, this.at + 4))) {
        value += String.fromCharCode(parseInt(this.text.slice(this.at, this.at + 4), 16));
        this.at += 4;
      } else this.notJson(`a bad escape "\\${e}"`);
    }
    const raw = this.text.slice(start, this.at);
    const named = what === 'key' ? `the key ${raw} ${where(path)}` : `the string ${where(path)}`;
    if (!value.isWellFormed()) this.fail(`has a lone surrogate in ${named}: it is not Unicode text`);
    const canonical = JSON.stringify(value);
    if (raw !== canonical) this.fail(`writes ${named} as ${raw}, not as the packer writes it (${canonical})`);
    return value;
  }

  private scanNumber(path: (string | number)[]): void {
    numberToken.lastIndex = this.at;
    const token = numberToken.exec(this.text)?.[0];
    if (token === undefined) this.notJson('a malformed number');
    this.at += token.length;
    const value = Number(token);
    if (!Number.isFinite(value)) this.fail(`has the number ${token} ${where(path)}, too large for a JSON number`);
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) this.fail(`has the number ${token} ${where(path)}, beyond what JSON numbers hold exactly (2^53 − 1)`);
    if (String(value) !== token) this.fail(`writes the number ${token} ${where(path)} as the packer never does (${String(value)})`);
  }
}

/** Says how `text` strays from `expected` (the canonical text of the same value). */
function layoutProblem(text: string, expected: string): string {
  if (text.includes('\r')) return 'has CR LF line ends (the packer writes LF only)';
  if (text + '\n' === expected) return 'does not end with a newline';
  if (text.trimEnd() + '\n' === expected) return 'has extra whitespace after its last line';
  let at = 0;
  while (at < text.length && text[at] === expected[at]) at++;
  const show = (s: string): string => JSON.stringify(s.slice(at, at + 16));
  return `is laid out differently from the packer's output at ${lineColumn(text, at)} (found ${show(text)}, the packer writes ${show(expected)})`;
}

/** Checks `bytes` against rules 1–6 and returns the parsed value, or what is wrong. */
export function parseCanonicalJson(bytes: Uint8Array): CanonicalJsonResult {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { ok: false, problem: 'starts with a byte-order mark (the packer writes plain UTF-8)' };
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, problem: 'is not valid UTF-8 text' };
  }
  try {
    new Scanner(text).scanDocument();
  } catch (error) {
    if (error instanceof NotCanonical) return { ok: false, problem: error.problem };
    throw error;
  }
  const value: unknown = JSON.parse(text);
  const expected = JSON.stringify(value, null, 2) + '\n';
  return text === expected ? { ok: true, value } : { ok: false, problem: layoutProblem(text, expected) };
}

/**
 * The canonical text of `value`, for a packer to sign. Throws when the value has no
 * canonical form (a lone surrogate, an unsafe integer, nothing to serialise): a packer must
 * never sign what the verifier refuses.
 */
export function canonicalJsonText(value: unknown): string {
  const json = JSON.stringify(value, null, 2) as string | undefined;
  if (json === undefined) throw new TypeError('nothing to serialise: the value is not JSON');
  const text = json + '\n';
  const check = parseCanonicalJson(new TextEncoder().encode(text));
  if (!check.ok) {
    throw new FieldkitError(appError('BAD_REQUEST', `The manifest cannot be signed: it ${check.problem}.`, 'Use well-formed text (no lone surrogates) and whole numbers below 2^53 in what goes into the manifest.'));
  }
  return text;
}
