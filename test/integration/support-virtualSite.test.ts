import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectSerial } from '../../electron/kernel/link/serialLink.ts';
import { startVirtualSite, type VirtualPi, type VirtualSite } from '../support/virtualSite.ts';
import { sweepLeftovers } from '../support/virtualSite/leftovers.ts';
import { ensureRootfs } from '../support/virtualSite/rootfs.ts';

/** nspawn processes whose root is below `dir` (this site's), by their command lines. */
function nspawnsBelow(dir: string): string[] {
  let lines: string[];
  try {
    lines = execFileSync('pgrep', ['-a', 'systemd-nspawn'], { encoding: 'utf8' }).split('\n');
  } catch {
    return []; // pgrep exits 1 when none run
  }
  return lines.filter((line) => line.includes(dir));
}

function mountsBelow(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((point) => point.startsWith(dir));
}

function siteDirOf(pi: VirtualPi): string {
  return join(pi.privateKeyPath, '..');
}

async function ok(pi: VirtualPi, command: string): Promise<string> {
  const result = await pi.exec(command);
  expect(result, `${pi.name}: ${command}`).toMatchObject({ code: 0 });
  return result.stdout;
}

const probeUnit = `[Unit]
Description=virtual site probe (a stand-in for a deployed service)
[Service]
ExecStartPre=/bin/sh -c 'echo start >> /var/lib/fieldkit-agent/starts'
ExecStart=/bin/sleep infinity
Restart=on-failure
RestartSec=100ms
[Install]
WantedBy=multi-user.target
`;

/**
 * The harness itself: three real systemd Pis on this machine, each its own host with its
 * own sshd, cgroup and disk; they reboot keeping their disk and leave nothing behind.
 */
describe('virtual site', () => {
  let site: VirtualSite;
  let pis: VirtualPi[] = [];

  beforeAll(async () => {
    await ensureRootfs(); // about 50 s the first time on a machine, then cached
  }, 300_000);

  beforeAll(async () => {
    site = await startVirtualSite({ count: 3 });
    pis = site.pis;
  }, 60_000);

  afterAll(async () => {
    await site.stop();
  });

  it('boots three Pis whose sshd accepts the laptop key as pi, fully up, with sudo and their own names', async () => {
    expect(pis).toHaveLength(3);
    await Promise.all(
      pis.map(async (pi) => {
        expect(pi.lastBoot.state).toBe('running');
        expect(pi.lastBoot.sshAcceptingMs).toBeLessThan(10_000);
        // No failed units: "running", not "degraded".
        expect((await ok(pi, 'systemctl is-system-running')).trim()).toBe('running');
        const [whoami, root, ...active] = (await ok(pi, 'whoami; sudo -n id -u; systemctl show -p ActiveState --value multi-user.target ssh.service')).split('\n');
        expect([whoami, root, ...active.filter(Boolean)]).toEqual(['pi', '0', 'active', 'active']);
      }),
    );
    const hostnames = await Promise.all(pis.map(async (pi) => (await ok(pi, 'hostname')).trim()));
    expect(hostnames).toEqual(['vpi-1', 'vpi-2', 'vpi-3']);
    expect(new Set(pis.map((pi) => pi.sshPort)).size).toBe(3);
    expect(new Set(pis.map((pi) => pi.hostKeyPublic.split(' ')[1])).size).toBe(3);
    expect(new Set(await Promise.all(pis.map((pi) => ok(pi, 'cat /etc/machine-id')))).size).toBe(3);
  });

  it('checks host keys: the site known_hosts trusts each Pi by its own key, and only there', async () => {
    const [first, second] = pis as [VirtualPi, VirtualPi];
    // Present vpi-1's key for vpi-2's port: ssh must refuse, as it would an impostor.
    const firstLine = readFileSync(first.knownHostsPath, 'utf8').split('\n').find((line) => line.startsWith(`[127.0.0.1]:${String(first.sshPort)} `)) ?? '';
    expect(firstLine).toContain(first.hostKeyPublic.split(' ')[1]);
    const impostorKnownHosts = join(siteDirOf(first), 'impostor_known_hosts');
    writeFileSync(impostorKnownHosts, `${firstLine.replace(`:${String(first.sshPort)}]`, `:${String(second.sshPort)}]`)}\n`);
    const refused = spawn('ssh', ['-i', first.privateKeyPath, '-p', String(second.sshPort), '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${impostorKnownHosts}`, '-o', 'StrictHostKeyChecking=yes', 'pi@127.0.0.1', 'true'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    refused.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => refused.once('close', resolve));
    expect(code).toBe(255);
    expect(stderr).toMatch(/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/);
  });

  it('takes an SFTP upload (the deploy channel) and sudo installs it under /opt', async () => {
    const pi = pis[1] as VirtualPi;
    const payload = join(siteDirOf(pi), 'payload.bin');
    const data = randomBytes(300_000);
    writeFileSync(payload, data);
    const sftp = spawn('sftp', ['-i', pi.privateKeyPath, '-P', String(pi.sshPort), '-o', 'BatchMode=yes', '-o', `UserKnownHostsFile=${pi.knownHostsPath}`, '-b', '-', 'pi@127.0.0.1'], { stdio: ['pipe', 'ignore', 'inherit'] });
    sftp.stdin.end(`put ${payload} /tmp/payload.bin\n`);
    expect(await new Promise((resolve) => sftp.once('close', resolve))).toBe(0);
    const sum = await ok(pi, 'sudo -n install -D -m 0644 /tmp/payload.bin /opt/fieldkit-agent/payload.bin && sha256sum /opt/fieldkit-agent/payload.bin');
    expect(sum.split(' ')[0]).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('runs a unit installed by the test: starts, is restarted by systemd after a crash, restarts on request — each Pi on its own', async () => {
    const [pi, other] = pis as [VirtualPi, VirtualPi];
    const mainPid = 'systemctl show -p MainPID --value vs-probe';
    const [active, firstPid] = (await ok(pi, `sudo -n mkdir -p /var/lib/fieldkit-agent && sudo -n tee /etc/systemd/system/vs-probe.service >/dev/null <<'EOF'\n${probeUnit}EOF\nsudo -n systemctl daemon-reload && sudo -n systemctl enable --now vs-probe.service && systemctl is-active vs-probe && ${mainPid}`)).split('\n');
    expect(active).toBe('active');

    // A crash (SIGKILL of the main process): Restart=on-failure brings it back.
    const secondPid = (await ok(pi, `sudo -n kill -9 ${firstPid ?? ''}; for i in $(seq 50); do [ "$(systemctl show -p NRestarts --value vs-probe)" = 1 ] && systemctl is-active -q vs-probe && exec ${mainPid}; sleep 0.1; done; exit 1`)).trim();
    expect(secondPid).not.toBe(firstPid);

    const [thirdPid, starts, cgroup] = (await ok(pi, `sudo -n systemctl restart vs-probe && ${mainPid} && wc -l < /var/lib/fieldkit-agent/starts && grep -E '^0::' /proc/$(${mainPid})/cgroup`)).split('\n');
    expect(thirdPid).not.toBe(secondPid);
    expect(starts).toBe('3');
    // Cgroups are per instance: each unit in its own, and the other Pi's systemd neither sees nor owns this one.
    expect(cgroup).toBe('0::/system.slice/vs-probe.service');
    expect((await other.exec('systemctl is-active vs-probe')).stdout.trim()).not.toBe('active');
  });

  it('reboots keeping its disk (release folder, state, enabled unit, hostname) but not /tmp', async () => {
    const pi = pis[0];
    if (!pi) throw new Error('no Pi');
    const bootId = (await ok(pi, 'sudo -n mkdir -p /opt/fieldkit-agent/releases/1.0.0 && echo kept | sudo -n tee /opt/fieldkit-agent/releases/1.0.0/marker >/dev/null && echo gone > /tmp/scratch && cat /proc/sys/kernel/random/boot_id')).trim();
    const started = performance.now();
    await pi.reboot();
    const rebootMs = performance.now() - started;
    expect(pi.running()).toBe(true);
    // The host key is the same: ssh with the site's known_hosts (strict checking) gets in.
    const after = (await ok(pi, 'cat /proc/sys/kernel/random/boot_id /opt/fieldkit-agent/releases/1.0.0/marker; systemctl is-active vs-probe; wc -l < /var/lib/fieldkit-agent/starts; hostname; test -e /tmp/scratch && echo scratch-kept || echo scratch-gone')).split('\n');
    expect(after[0]).not.toBe(bootId);
    // Enabled before the reboot, so systemd started it at boot: one more start recorded.
    expect(after.slice(1)).toEqual(['kept', 'active', '4', 'vpi-1', 'scratch-gone', '']);
    expect(rebootMs).toBeLessThan(20_000);
  });

  it('stops one Pi without touching the others', async () => {
    const [, , third] = pis as [VirtualPi, VirtualPi, VirtualPi];
    const stopped = await third.stop();
    expect(stopped.forced).toBe(false);
    expect(third.running()).toBe(false);
    expect((await third.exec('true', { timeoutMs: 5000 })).code).toBe(255);
    expect((await ok(pis[1] as VirtualPi, 'systemctl is-system-running')).trim()).toBe('running');
  });
});

describe('virtual site teardown', () => {
  it('stop() leaves no nspawn process, cgroup, mount or folder behind', async () => {
    const site = await startVirtualSite({ count: 2, name: 'gone' });
    const dir = siteDirOf(site.pis[0] as VirtualPi);
    expect(nspawnsBelow(dir)).toHaveLength(2);
    const cgroups = site.pis.flatMap((pi) => pi.cgroupDirs);
    // One per hierarchy (name=systemd and the v2 one on this hybrid host) per Pi, nspawn's payload inside.
    expect(cgroups.length).toBeGreaterThanOrEqual(2);
    for (const cgroup of cgroups) expect(existsSync(join(cgroup, 'payload'))).toBe(true);
    expect(mountsBelow(dir)).toHaveLength(2);
    await site.stop();
    expect(nspawnsBelow(dir)).toEqual([]);
    expect(cgroups.filter((cgroup) => existsSync(cgroup))).toEqual([]);
    expect(mountsBelow(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);

  it('sweeps the Pis of a test process killed with kill -9 (best effort, at the next site start)', async () => {
    const script = `import { startVirtualSite } from ${JSON.stringify(join(import.meta.dirname, '../support/virtualSite.ts'))};
const site = await startVirtualSite({ count: 1, name: 'orphan' });
console.log(JSON.stringify({ dir: site.pis[0].privateKeyPath, cgroups: site.pis[0].cgroupDirs }));
setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.once('data', (chunk: Buffer) => {
        resolve(chunk.toString());
      });
      child.once('exit', (code) => {
        reject(new Error(`the child exited ${String(code)} before its site was up`));
      });
    });
    const orphan = JSON.parse(line) as { dir: string; cgroups: string[] };
    const dir = join(orphan.dir, '..');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(nspawnsBelow(dir)).toHaveLength(1); // orphaned: nothing stopped it

    await sweepLeftovers(); // (another test file starting a site may sweep it first: the outcome is what counts)
    expect(nspawnsBelow(dir)).toEqual([]);
    expect(orphan.cgroups.filter((cgroup) => existsSync(cgroup))).toEqual([]);
    expect(existsSync(join('/run/systemd/nspawn/propagate', orphan.cgroups[0]?.split('/').at(-1) ?? ''))).toBe(false);
    expect(mountsBelow(dir)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});

describe('virtual site serial console', () => {
  it('bridges the console to a PTY where pi logs in with its password, as on a UART', async () => {
    const site = await startVirtualSite({ count: 1, name: 'serial', serial: true });
    try {
      const pi = site.pis[0] as VirtualPi;
      expect(pi.serialPath).not.toBeNull();
      const link = await connectSerial({ target: { path: pi.serialPath ?? '' }, credentials: { username: pi.user, password: pi.password } });
      try {
        const result = await link.exec('hostname; tty; sudo -n true && echo sudo-ok');
        expect(result.code).toBe(0);
        expect(result.stdout.toString().split('\n')).toEqual(['serial-1', '/dev/pts/0', 'sudo-ok', '']);
      } finally {
        await link.close();
      }
    } finally {
      await site.stop();
    }
  }, 60_000);
});
