/**
 * Parses a signed JSON document (an image or bundle manifest) the one way fieldkit accepts
 * it: canonical, as shared/canonicalJson.ts defines. Anything else is refused before a
 * single field is read — a duplicate key or an odd layout in signed bytes means some other
 * tool made them, and two parsers might read them differently.
 */
import { parseCanonicalJson } from '../../../shared/canonicalJson.ts';
import { appError, FieldkitError } from '../../../shared/errors.ts';

/**
 * The parsed value of `bytes`, or VERIFICATION_FAILED: "`document` has the key "payload"
 * twice … — it was not made by fieldkit's packer; refusing." `document` names it ("The
 * signed manifest.json in x.fkimg"); `hint` says what to do instead.
 */
export function parseSignedJson(bytes: Uint8Array, document: string, hint: string): unknown {
  const result = parseCanonicalJson(bytes);
  if (!result.ok) throw new FieldkitError(appError('VERIFICATION_FAILED', `${document} ${result.problem} — it was not made by fieldkit's packer; refusing.`, hint));
  return result.value;
}
