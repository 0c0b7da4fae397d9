/** Host key fingerprints as OpenSSH prints them (`SHA256:…`), so a technician can compare. */
import { createHash } from 'node:crypto';

export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}
