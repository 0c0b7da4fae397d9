/**
 * fieldkit's own SSH key: one ed25519 key per laptop installation, made on first use and
 * kept 0600 in the data folder. Devices get its public half in authorized_keys, so a
 * password is needed only at first contact.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
// ssh2 is CommonJS: Node's ESM loader sees only its default export.
import ssh2 from 'ssh2';

export type AppSshKey = { privateKey: string; publicKey: string; path: string };

export function loadOrCreateAppSshKey(dataDir: string): AppSshKey {
  const dir = join(dataDir, 'ssh');
  const path = join(dir, 'id_ed25519');
  if (!existsSync(path)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: `fieldkit@${hostname()}` });
    // wx: never overwrite a key another fieldkit process made a moment ago.
    try {
      writeFileSync(path, pair.private, { mode: 0o600, flag: 'wx' });
      writeFileSync(`${path}.pub`, pair.public + '\n', { mode: 0o644, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  chmodSync(path, 0o600);
  return { privateKey: readFileSync(path, 'utf8'), publicKey: readFileSync(`${path}.pub`, 'utf8').trim(), path };
}
