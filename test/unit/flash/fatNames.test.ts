import { describe, expect, it } from 'vitest';
import { isFieldkitError } from '../../../shared/errors.ts';
import { basisName, checkLongName, displayShortName, exactShortName, lfnChecksum, longNameEntries, shortNameBytes, uniqueShortName } from '../../../electron/flash/fat/names.ts';

const key = (base: string, ext: string): string => shortNameBytes(base, ext).toString('latin1');

describe('FAT names', () => {
  it('keeps a plain 8.3 name as a short entry with the NT lower-case bits', () => {
    expect(exactShortName('cmdline.txt')).toEqual({ short: shortNameBytes('CMDLINE', 'TXT'), caseFlags: 0x18 });
    expect(exactShortName('CONFIG.TXT')).toEqual({ short: shortNameBytes('CONFIG', 'TXT'), caseFlags: 0 });
    expect(exactShortName('README.md')).toEqual({ short: shortNameBytes('README', 'MD'), caseFlags: 0x10 });
    // Mixed case, too long, or characters a short name cannot hold: long-name entries needed.
    expect(exactShortName('Config.txt')).toBeNull();
    expect(exactShortName('user-data.json')).toBeNull();
    expect(exactShortName('meta-data')).toBeNull();
    expect(exactShortName('a+b.txt')).toBeNull();
    expect(exactShortName('trailing.')).toBeNull();
  });

  it('makes Windows basis names: upper case, _ for invalid characters, no spaces or extra dots', () => {
    expect(basisName('fieldkit-identity.json')).toEqual({ base: 'FIELDKIT', ext: 'JSO', lossy: true });
    expect(basisName('user-data')).toEqual({ base: 'USER-DAT', ext: '', lossy: true });
    expect(basisName('a b.c.txt')).toEqual({ base: 'ABC', ext: 'TXT', lossy: true });
    expect(basisName('.hidden')).toEqual({ base: 'HIDDEN', ext: '', lossy: true });
    expect(basisName('naïve+x.txt')).toEqual({ base: 'NA_VE_X', ext: 'TXT', lossy: true });
    expect(basisName('Config.txt')).toEqual({ base: 'CONFIG', ext: 'TXT', lossy: false });
  });

  it('gives ~N tails that no other entry has', () => {
    const taken = new Set([key('FIELDK~1', 'JSO'), key('FIELDK~2', 'JSO')]);
    expect(displayShortName(uniqueShortName('fieldkit-agent.json', taken), 0)).toBe('FIELDK~3.JSO');
    expect(displayShortName(uniqueShortName('Config.txt', new Set()), 0)).toBe('CONFIG.TXT');
    expect(displayShortName(uniqueShortName('Config.txt', new Set([key('CONFIG', 'TXT')])), 0)).toBe('CONFIG~1.TXT');
    const many = new Set(Array.from({ length: 9 }, (_, i) => key(`LONGNA~${i + 1}`, '')));
    expect(displayShortName(uniqueShortName('longname-file', many), 0)).toBe('LONGN~10');
  });

  it('computes the long-name checksum over the 11 short-name bytes', () => {
    // Reference values from the Microsoft FAT specification's algorithm, computed by hand.
    let sum = 0;
    for (const byte of Buffer.from('FIELDK~1JSO', 'latin1')) sum = ((sum & 1) << 7) + (sum >> 1) + byte & 0xff;
    expect(lfnChecksum(shortNameBytes('FIELDK~1', 'JSO'))).toBe(sum);
    expect(lfnChecksum(Buffer.from('           ', 'latin1'))).not.toBe(lfnChecksum(Buffer.from('A          ', 'latin1')));
  });

  it('lays out long-name entries highest sequence first, terminated and 0xFFFF padded', () => {
    const entries = longNameEntries('fieldkit-identity.json', 0x5a);
    expect(entries).toHaveLength(2);
    const [last, first] = entries;
    expect(last?.readUInt8(0)).toBe(0x42);
    expect(first?.readUInt8(0)).toBe(0x01);
    for (const e of entries) {
      expect(e.readUInt8(11)).toBe(0x0f);
      expect(e.readUInt8(13)).toBe(0x5a);
      expect(e.readUInt16LE(26)).toBe(0);
    }
    // 22 characters: 13 in entry 1, 9 in entry 2, then the 0x0000 terminator, then 0xFFFF.
    expect(last?.readUInt16LE(1)).toBe('t'.charCodeAt(0));
    expect(last?.readUInt16LE(20)).toBe('n'.charCodeAt(0));
    expect(last?.readUInt16LE(22)).toBe(0);
    expect(last?.readUInt16LE(24)).toBe(0xffff);
    expect(last?.readUInt16LE(30)).toBe(0xffff);
    // Exactly 13 characters: no terminator.
    const exact = longNameEntries('abcdefghijklm', 1);
    expect(exact).toHaveLength(1);
    expect(exact[0]?.readUInt16LE(30)).toBe('m'.charCodeAt(0));
  });

  it('refuses names FAT cannot hold, with BAD_REQUEST', () => {
    for (const bad of ['', 'a/b', 'a:b', 'x*', 'tab\there', 'dot.', 'space ', 'x'.repeat(256)]) {
      let caught: unknown = null;
      try {
        checkLongName(bad);
      } catch (error) {
        caught = error;
      }
      expect(isFieldkitError(caught) && caught.appError.code === 'BAD_REQUEST', JSON.stringify(bad)).toBe(true);
    }
    expect(() => { checkLongName('fieldkit-authorized_keys'); }).not.toThrow();
  });
});
