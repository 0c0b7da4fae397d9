/**
 * The laptop's trust store: minisign public keys whose images may be flashed. A revoked key
 * stays in the table with when and why, so an image it signed is refused by name (not as
 * "unknown") and the key cannot be quietly imported again, by a colleague or a script.
 */
import path from 'node:path';
import { z } from 'zod';
import { appError, FieldkitError } from '../../../shared/errors.ts';
import type { TrustedKey } from '../../../shared/trust.ts';
import { formatKeyId, parsePublicKey, publicKeyBase64, type MinisignPublicKey } from '../signing/minisignFormat.ts';
import type { Store } from '../store/openStore.ts';
import { checkImageManifest, readUnverifiedManifest, type ImageCheckOptions, type VerifiedImage } from '../image/verifyImage.ts';

const KeyRowSchema = z.object({
  key_id: z.string(),
  public_key: z.string(),
  label: z.string(),
  added_ms: z.number(),
  revoked_ms: z.number().nullable(),
  revoked_reason: z.string().nullable(),
});
type KeyRow = z.infer<typeof KeyRowSchema>;

function toTrustedKey(row: KeyRow): TrustedKey {
  return { keyId: row.key_id, publicKey: row.public_key, label: row.label, addedMs: row.added_ms, revokedMs: row.revoked_ms, revokedReason: row.revoked_reason };
}

function keyRow(db: Store, keyId: string): KeyRow | undefined {
  const row = db.prepare(`SELECT * FROM trusted_keys WHERE key_id = ?`).get(keyId);
  return row === undefined ? undefined : KeyRowSchema.parse(row);
}

/** The key as stored, read back after writing it. */
function writtenKey(db: Store, keyId: string): TrustedKey {
  return toTrustedKey(KeyRowSchema.parse(db.prepare(`SELECT * FROM trusted_keys WHERE key_id = ?`).get(keyId)));
}

function describeRevoked(key: TrustedKey): string {
  return `key ${key.keyId} (${key.label}) was revoked on ${new Date(key.revokedMs ?? 0).toISOString().slice(0, 10)}: ${key.revokedReason ?? 'no reason given'}`;
}

/** Every key, newest first, revoked ones included. */
export function listTrustedKeys(db: Store): TrustedKey[] {
  return db
    .prepare(`SELECT * FROM trusted_keys ORDER BY added_ms DESC, key_id`)
    .all()
    .map((row) => toTrustedKey(KeyRowSchema.parse(row)));
}

/** Trusts the key in `publicKeyText` (a .pub file's text, or its bare base64 line). */
export function importTrustedKey(db: Store, publicKeyText: string, label: string, now: number = Date.now()): TrustedKey {
  const key = parsePublicKey(publicKeyText);
  const keyId = formatKeyId(key.keyId);
  const existing = keyRow(db, keyId);
  if (existing !== undefined) {
    const known = toTrustedKey(existing);
    if (known.revokedMs !== null) {
      throw new FieldkitError(
        appError('CONFLICT', `This ${describeRevoked(known)}. A revoked key is never trusted again.`, 'Ask the publisher for their new public key and import that one instead.', 'publicKey'),
      );
    }
    if (known.publicKey !== publicKeyBase64(key)) {
      throw new FieldkitError(
        appError('CONFLICT', `A different key with the id ${keyId} (${known.label}) is already trusted.`, 'Check the .pub file with its publisher; two keys sharing an id is a sign of tampering.', 'publicKey'),
      );
    }
    return known;
  }
  db.prepare(`INSERT INTO trusted_keys (key_id, public_key, label, added_ms) VALUES (?, ?, ?, ?)`).run(keyId, publicKeyBase64(key), label, now);
  return writtenKey(db, keyId);
}

/** Revokes a key for good; revoking it again keeps the first date and reason. */
export function revokeTrustedKey(db: Store, keyId: string, reason: string, now: number = Date.now()): TrustedKey {
  const id = keyId.toUpperCase();
  const row = keyRow(db, id);
  if (row === undefined) {
    throw new FieldkitError(appError('NOT_FOUND', `No trusted key has the id ${id}.`, 'List the trusted keys with `fieldkit trust list` and use one of their ids.', 'keyId'));
  }
  db.prepare(`UPDATE trusted_keys SET revoked_ms = ?, revoked_reason = ? WHERE key_id = ? AND revoked_ms IS NULL`).run(now, reason, id);
  return writtenKey(db, id);
}

/** The keys verifyImage may use: the unrevoked ones. */
export function trustedKeysForVerify(db: Store): MinisignPublicKey[] {
  return listTrustedKeys(db)
    .filter((k) => k.revokedMs === null)
    .map((k) => parsePublicKey(k.publicKey));
}

/**
 * checkImageManifest against trust-store keys (as listTrustedKeys or `trust.list` gives
 * them): an image signed by a revoked key is refused naming the key and why it was revoked.
 */
export async function checkImageManifestTrusted(keys: readonly TrustedKey[], file: string, options: Omit<ImageCheckOptions, 'trustedKeys'> = {}): Promise<VerifiedImage> {
  const { keyId } = await readUnverifiedManifest(file);
  const revoked = keys.find((k) => k.keyId === keyId && k.revokedMs !== null);
  if (revoked !== undefined) {
    throw new FieldkitError(
      appError('VERIFICATION_FAILED', `${path.basename(file)} is signed by a revoked key: ${describeRevoked(revoked)}.`, 'Do not flash this image. Get one signed by a key that is still trusted.'),
    );
  }
  const trustedKeys = keys.filter((k) => k.revokedMs === null).map((k) => parsePublicKey(k.publicKey));
  if (trustedKeys.length === 0) {
    throw new FieldkitError(
      appError(
        'VERIFICATION_FAILED',
        `${path.basename(file)} is signed by key ${keyId}, and no image key is trusted yet.`,
        "Import the publisher's .pub in Settings → Trusted image keys, or: fieldkit trust import <file.pub> --label …",
      ),
    );
  }
  return checkImageManifest(file, { ...options, trustedKeys });
}
