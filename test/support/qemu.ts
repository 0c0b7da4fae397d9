/**
 * Runs linux-arm64 binaries on this x64 machine with Debian's qemu-user-static, through
 * binfmt_misc, so a test can exec the arm64 bundle's launcher exactly as a Pi would.
 *
 * From a fresh boot (CI), as root: mount binfmt_misc if it is not, then register qemu-aarch64
 * (update-binfmts, or the registration line from /usr/lib/binfmt.d written by hand) with the
 * F flag, which opens the interpreter at registration so it works from any mount namespace.
 * Node for arm64 is a dynamically linked glibc program, so qemu also needs an arm64 loader and
 * libraries: Debian's libc6-arm64-cross, libstdc++6-arm64-cross and libgcc-s1-arm64-cross put
 * them in /usr/aarch64-linux-gnu, which QEMU_LD_PREFIX points qemu at.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const binfmtDir = '/proc/sys/fs/binfmt_misc';
const entry = `${binfmtDir}/qemu-aarch64`;
export const aarch64Sysroot = '/usr/aarch64-linux-gnu';
const registrationFiles = ['/usr/lib/binfmt.d/qemu-aarch64.conf', '/etc/binfmt.d/qemu-aarch64.conf'];

export class QemuUnavailable extends Error {
  override name = 'QemuUnavailable';
}

function entryEnabled(): boolean {
  return existsSync(entry) && readFileSync(entry, 'utf8').split('\n')[0] === 'enabled';
}

function mountBinfmt(): void {
  if (existsSync(`${binfmtDir}/register`)) return;
  try {
    execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', binfmtDir], { stdio: 'pipe' });
  } catch (error) {
    throw new QemuUnavailable(`Cannot mount binfmt_misc on ${binfmtDir} (${(error as Error).message.trim()}). Run the tests as root, or mount it once: mount -t binfmt_misc binfmt_misc ${binfmtDir}`);
  }
}

function registerByHand(): void {
  const file = registrationFiles.find((f) => existsSync(f));
  if (file === undefined) throw new QemuUnavailable('qemu-aarch64 has no binfmt registration file. Install it: apt-get install qemu-user-static binfmt-support');
  let line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(':qemu-aarch64:'));
  if (line === undefined) throw new QemuUnavailable(`${file} has no :qemu-aarch64: line`);
  // The F flag (fix binary) makes the kernel open the interpreter now, not at each exec.
  const fields = line.split(':');
  const flags = fields.at(-1) ?? '';
  if (!flags.includes('F')) line = line + 'F';
  try {
    writeFileSync(`${binfmtDir}/register`, line);
  } catch (error) {
    // Another test file may have registered it a moment ago.
    if (!existsSync(entry)) throw new QemuUnavailable(`Registering qemu-aarch64 with binfmt_misc failed: ${(error as Error).message}`);
  }
}

/**
 * Makes sure arm64 executables run here, and returns the environment they need
 * (QEMU_LD_PREFIX). Throws QemuUnavailable saying what to install or run when they cannot.
 */
export function ensureQemuAarch64(): { env: Record<string, string> } {
  if (!existsSync(`${aarch64Sysroot}/lib/ld-linux-aarch64.so.1`)) {
    throw new QemuUnavailable(
      `No arm64 C library in ${aarch64Sysroot} for qemu-user to load Node with. Install it: apt-get install libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross`,
    );
  }
  mountBinfmt();
  if (readFileSync(`${binfmtDir}/status`, 'utf8').trim() !== 'enabled') writeFileSync(`${binfmtDir}/status`, '1');
  if (!entryEnabled()) {
    if (existsSync(entry)) writeFileSync(entry, '1');
    else {
      try {
        execFileSync('update-binfmts', ['--enable', 'qemu-aarch64'], { stdio: 'pipe' });
      } catch {
        // binfmt-support missing or unhappy: the registration line does the same.
      }
      if (!existsSync(entry)) registerByHand();
    }
  }
  if (!entryEnabled()) throw new QemuUnavailable(`${entry} is not enabled after registering it`);
  return { env: { QEMU_LD_PREFIX: aarch64Sysroot } };
}
