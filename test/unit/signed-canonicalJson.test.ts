/**
 * The canonical JSON rules every signed manifest is held to (shared/canonicalJson.ts): what
 * the packers write passes byte for byte; a duplicate key at any depth, a byte-order mark,
 * any other whitespace, a number or string written differently, a big or unsafe number, a
 * lone surrogate and invalid UTF-8 are each refused with what was wrong.
 */
import { describe, expect, it } from 'vitest';
import { canonicalJsonMaxDepth, canonicalJsonText, parseCanonicalJson } from '../../shared/canonicalJson.ts';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const problemOf = (text: string | Uint8Array): string => {
  const result = parseCanonicalJson(typeof text === 'string' ? encode(text) : text);
  if (result.ok) throw new Error(`accepted: ${JSON.stringify(result.value)}`);
  return result.problem;
};

const manifest = {
  manifest_version: 1,
  product: 'demo-os',
  version: '1.2.0 — “release” é',
  sequence: Number.MAX_SAFE_INTEGER,
  ratio: 0.1,
  negative: -42,
  flag: true,
  nothing: null,
  boards: ['pi4', 'pi5'],
  empty: { list: [], object: {} },
  payload: { compression: 'zstd', sha256: 'a'.repeat(64), note: 'tab\there "quoted" back\\slash \u0001' },
};

describe('canonical JSON', () => {
  it('accepts exactly what the packers write, and gives back the value', () => {
    const text = canonicalJsonText(manifest);
    expect(text).toBe(JSON.stringify(manifest, null, 2) + '\n');
    expect(parseCanonicalJson(encode(text))).toEqual({ ok: true, value: manifest });
  });

  it('keeps the writer\'s key order: a different order of the same keys is canonical too', () => {
    const text = canonicalJsonText({ b: 1, a: 2 });
    expect(text).toBe('{\n  "b": 1,\n  "a": 2\n}\n');
    expect(parseCanonicalJson(encode(text)).ok).toBe(true);
  });

  it('refuses a duplicate key at the top level, naming the key and where the second one is', () => {
    const text = '{\n  "payload": 1,\n  "version": "1",\n  "payload": 2\n}\n';
    expect(problemOf(text)).toBe('has the key "payload" twice at the top level (the second at line 4, column 3)');
  });

  it('refuses a duplicate key at any depth, even with equal values', () => {
    const inner = JSON.stringify({ payload: { zero_frames: [{ a: 1, b: 2 }] } }, null, 2).replace('"b": 2', '"b": 2,\n          "a": 1');
    expect(problemOf(inner + '\n')).toMatch(/^has the key "a" twice in payload\.zero_frames\.0 \(the second at line \d+/);
    expect(problemOf('{\n  "x": {\n    "k": 1,\n    "k": 1\n  }\n}\n')).toMatch(/^has the key "k" twice in x/);
  });

  it('sees a duplicate key written with a different escape as the same key', () => {
    // "\u0070ayload" is "payload": the escape alone is refused first, so both ways it is refused.
    expect(problemOf('{\n  "payload": 1,\n  "\\u0070ayload": 2\n}\n')).toContain('not as the packer writes it ("payload")');
  });

  it('refuses a byte-order mark, and invalid UTF-8', () => {
    expect(problemOf(new Uint8Array([0xef, 0xbb, 0xbf, ...encode('{}\n')]))).toBe('starts with a byte-order mark (the packer writes plain UTF-8)');
    expect(problemOf(new Uint8Array([...encode('{\n  "a": "'), 0xc3, 0x28, ...encode('"\n}\n')]))).toBe('is not valid UTF-8 text');
    // A lone surrogate cannot be written in UTF-8 at all (CESU-8 style bytes are invalid).
    expect(problemOf(new Uint8Array([...encode('{\n  "a": "'), 0xed, 0xa0, 0x80, ...encode('"\n}\n')]))).toBe('is not valid UTF-8 text');
  });

  it.each([
    ['compact', '{"a":1}\n', 'line 1, column 2'],
    ['four-space indent', '{\n    "a": 1\n}\n', 'line 2, column 3'],
    ['tab indent', '{\n\t"a": 1\n}\n', 'line 2, column 1'],
    ['space before the colon', '{\n  "a" : 1\n}\n', 'line 2, column 6'],
    ['a trailing space on a line', '{\n  "a": 1 \n}\n', 'line 2, column 9'],
    ['a leading newline', '\n{\n  "a": 1\n}\n', 'line 1, column 1'],
  ])('refuses other whitespace: %s', (_name, text, position) => {
    expect(problemOf(text)).toContain(`is laid out differently from the packer's output at ${position}`);
  });

  it('refuses CR LF line ends, a missing final newline and extra lines at the end', () => {
    expect(problemOf('{\r\n  "a": 1\r\n}\r\n')).toBe('has CR LF line ends (the packer writes LF only)');
    expect(problemOf('{\n  "a": 1\n}')).toBe('does not end with a newline');
    expect(problemOf('{\n  "a": 1\n}\n\n')).toBe('has extra whitespace after its last line');
  });

  it.each([
    ['1.0', '1'],
    ['1e0', '1'],
    ['10E1', '100'],
    ['-0', '0'],
    ['0.10', '0.1'],
    ['0.1000000000000000055511151231257827', '0.1'],
  ])('refuses the number %s, written differently from the packer (%s)', (token, canonical) => {
    expect(problemOf(`{\n  "n": ${token}\n}\n`)).toBe(`writes the number ${token} in n as the packer never does (${canonical})`);
  });

  it('refuses numbers beyond what JSON numbers hold exactly, and too large for one', () => {
    expect(problemOf('{\n  "size": 9007199254740993\n}\n')).toBe('has the number 9007199254740993 in size, beyond what JSON numbers hold exactly (2^53 − 1)');
    expect(problemOf('{\n  "size": [9007199254740992]\n}\n')).toContain('beyond what JSON numbers hold exactly');
    expect(problemOf('{\n  "size": -9007199254740992\n}\n')).toContain('beyond what JSON numbers hold exactly');
    expect(problemOf('{\n  "size": 1e400\n}\n')).toBe('has the number 1e400 in size, too large for a JSON number');
    expect(parseCanonicalJson(encode('{\n  "size": 9007199254740991,\n  "small": 1.5e-7\n}\n')).ok).toBe(true);
  });

  it('refuses strings escaped differently from JSON.stringify, and lone surrogates', () => {
    expect(problemOf('{\n  "a": "\\u0041"\n}\n')).toBe('writes the string in a as "\\u0041", not as the packer writes it ("A")');
    expect(problemOf('{\n  "a": "x\\/y"\n}\n')).toContain('not as the packer writes it ("x/y")');
    expect(problemOf('{\n  "a": "\\u00e9"\n}\n')).toContain('not as the packer writes it ("é")');
    expect(problemOf('{\n  "a": "\\ud800"\n}\n')).toBe('has a lone surrogate in the string in a: it is not Unicode text');
    expect(problemOf('{\n  "\\udc00": 1\n}\n')).toBe('has a lone surrogate in the key "\\udc00" at the top level: it is not Unicode text');
    // A well-formed pair escaped is refused for its escape, not as a surrogate.
    expect(problemOf('{\n  "a": "\\ud83d\\ude00"\n}\n')).toContain('not as the packer writes it ("😀")');
  });

  it('refuses what is not JSON, saying where', () => {
    expect(problemOf('')).toBe('is not JSON: it ends too early at line 1, column 1');
    expect(problemOf('{\n  "a": 1,\n}\n')).toBe('is not JSON: expected a key in quotes at line 3, column 1');
    expect(problemOf('{\n  "a": tru\n}\n')).toMatch(/^is not JSON: unexpected "t"/);
    expect(problemOf('{\n  "a": 1\n}\n{}\n')).toBe('has more after the end of the JSON value (line 4, column 1)');
    expect(problemOf('{\n  "a": "x\ny"\n}\n')).toMatch(/^is not JSON: a control character inside a string/);
  });

  it(`refuses nesting deeper than ${canonicalJsonMaxDepth} levels without overflowing the stack`, () => {
    expect(problemOf('['.repeat(100_000))).toMatch(/^nests deeper than 64 levels/);
    const deepest = JSON.parse('['.repeat(canonicalJsonMaxDepth) + ']'.repeat(canonicalJsonMaxDepth)) as unknown;
    expect(parseCanonicalJson(encode(canonicalJsonText(deepest))).ok).toBe(true);
  });

  it('will not serialise what it would refuse: a packer never signs a non-canonical manifest', () => {
    expect(() => canonicalJsonText({ version: '\ud800' })).toThrow(/lone surrogate/);
    expect(() => canonicalJsonText({ size: 2 ** 60 })).toThrow(/beyond what JSON numbers hold exactly/);
    expect(() => canonicalJsonText(undefined)).toThrow(/not JSON/);
  });
});
