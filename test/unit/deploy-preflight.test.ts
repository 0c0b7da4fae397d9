/** Preflight decisions: each refusal names what is missing and how to fix it; a fit device gets none. */
import { describe, expect, it } from 'vitest';
import { missingObjects } from '../../electron/deploy/objectStore.ts';
import { preflightRefusals, type DeviceFacts } from '../../electron/deploy/preflight.ts';

const pi5: DeviceFacts = {
  user: 'pi',
  machine: 'aarch64',
  osId: 'debian',
  osPretty: 'Debian GNU/Linux 12 (bookworm)',
  glibc: '2.36',
  init: 'systemd',
  sudo: true,
  freeKb: 4 * 1024 * 1024,
  freeOn: '/',
  currentVersion: null,
  previousVersion: null,
  activeModel: null,
  previousModel: null,
  objects: new Set(),
  clockOffsetMs: 0,
  unitActive: '',
  unitSha256: '',
  unitLoadState: 'not-found',
};
const wanted = { arch: 'arm64' as const, bytesNeeded: 130 * 1024 * 1024, prefix: '/opt/fieldkit-agent', modelService: null };

describe('preflightRefusals', () => {
  it('accepts a 64-bit Raspberry Pi OS with systemd, sudo and room', () => {
    expect(preflightRefusals(pi5, wanted)).toEqual([]);
  });

  it('refuses another architecture, naming the bundle to use instead', () => {
    const [refusal] = preflightRefusals({ ...pi5, machine: 'x86_64' }, wanted);
    expect(refusal?.message).toBe('The device is x86_64 (linux-x64); this bundle is for linux-arm64.');
    expect(refusal?.hint).toContain('linux-x64 bundle');
  });

  it('refuses a 32-bit OS with what to install', () => {
    const [refusal] = preflightRefusals({ ...pi5, machine: 'armv7l' }, wanted);
    expect(refusal?.hint).toContain('64-bit Raspberry Pi OS');
  });

  it('refuses an old glibc, another init, no sudo and too little space — all at once, each by name', () => {
    const refusals = preflightRefusals({ ...pi5, glibc: '2.24', init: 'init', sudo: false, freeKb: 50 * 1024, freeOn: '/opt' }, wanted);
    expect(refusals.map((r) => r.code)).toEqual(['CONFLICT', 'CONFLICT', 'PERMISSION_DENIED', 'CONFLICT']);
    expect(refusals[0]?.message).toContain('glibc 2.24');
    expect(refusals[1]?.message).toContain('PID 1 on the device is init, not systemd');
    expect(refusals[2]?.message).toBe("No passwordless sudo for pi: installing needs root, and a deploy never types a password.");
    expect(refusals[2]?.hint).toContain("echo 'pi ALL=(ALL) NOPASSWD: ALL' | sudo tee /etc/sudoers.d/010_pi-nopasswd");
    expect(refusals[3]?.message).toBe('Only 50.0 MiB free on /opt (which holds /opt/fieldkit-agent); this deploy must send 130.0 MiB and needs 146.0 MiB.');
  });

  it('counts only what must be sent against free space', () => {
    expect(preflightRefusals({ ...pi5, freeKb: 20 * 1024 }, { ...wanted, bytesNeeded: 2 * 1024 * 1024 })).toEqual([]);
  });

  it('refuses a model whose inference service is not installed', () => {
    const [refusal] = preflightRefusals(pi5, { arch: null, bytesNeeded: 0, prefix: '/opt/fieldkit-agent', modelService: 'inference.service' });
    expect(refusal?.message).toContain('inference.service is not installed');
  });
});

describe('missingObjects', () => {
  it('lists each absent hash once, skipping what the device holds', () => {
    const file = (path: string, sha: string) => ({ path, sha256: sha.repeat(64), size: 1, mode: 0o644 });
    expect(missingObjects([file('a', 'a'), file('b', 'b'), file('c', 'a'), file('d', 'd')], new Set(['d'.repeat(64)])).map((f) => f.path)).toEqual(['a', 'b']);
  });
});
