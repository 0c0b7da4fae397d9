/**
 * How deep a JSON text nests, found by scanning its bytes, before anything recursive sees it.
 * Validation (zod's JSON schema) and serialization recurse once per level, so a payload of
 * 100,000 nested arrays overflows the stack: the producer would get a 500 and retry forever.
 * A scan that only counts brackets outside strings runs in constant stack and lets the agent
 * refuse such a payload as the producer's mistake (400) instead.
 */

/** Deepest nesting an event may have, the event's own object counting as level 1. */
export const maxJsonNesting = 64;

const quote = 0x22;
const backslash = 0x5c;
const openBrace = 0x7b;
const closeBrace = 0x7d;
const openBracket = 0x5b;
const closeBracket = 0x5d;

/**
 * True when `bytes` (UTF-8 JSON, valid or not) opens more than `limit` objects or arrays
 * inside one another. Bytes of multi-byte UTF-8 characters never equal an ASCII bracket or
 * quote, so scanning bytes is as good as scanning characters.
 */
export function nestsDeeperThan(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (inString) {
      if (b === backslash) i++;
      else if (b === quote) inString = false;
    } else if (b === quote) {
      inString = true;
    } else if (b === openBrace || b === openBracket) {
      depth++;
      if (depth > limit) return true;
    } else if (b === closeBrace || b === closeBracket) {
      depth--;
    }
  }
  return false;
}

/** The sentence a refusal gives, so HTTP, NDJSON, MQTT and the CLI all say the same. */
export function nestingRefusal(): string {
  return `the event nests objects/arrays more than ${maxJsonNesting} levels deep (the agent's limit, the event itself counting as one)`;
}
