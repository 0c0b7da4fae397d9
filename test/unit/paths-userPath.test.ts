import { describe, expect, it } from 'vitest';
import { expandUserPath } from '../../electron/kernel/paths/userPath.ts';

describe('paths as a technician types them', () => {
  it('expands ~ and ~/… to the home folder and drops the blanks a paste brings', () => {
    expect(expandUserPath('~', '/home/tech')).toBe('/home/tech');
    expect(expandUserPath('~/Downloads/node-os.fkimg', '/home/tech')).toBe('/home/tech/Downloads/node-os.fkimg');
    expect(expandUserPath('  ~/bundles/agent.tar \n', '/home/tech')).toBe('/home/tech/bundles/agent.tar');
  });

  it('leaves everything else as typed', () => {
    expect(expandUserPath('/srv/images/a~b.img', '/home/tech')).toBe('/srv/images/a~b.img');
    expect(expandUserPath('~other/x.img', '/home/tech')).toBe('~other/x.img');
    expect(expandUserPath('images/x.img', '/home/tech')).toBe('images/x.img');
  });
});
