/**
 * SSH addresses as a technician types them — `pi@10.0.0.7`, `10.0.0.7:2222`,
 * `pi@[fe80::1]:22`, `pi-07.local` — checked the same way by the API, the CLI and the
 * Add device form. Each refusal says which part is wrong and why. Pure (no node:*), so
 * the renderer uses it too; IPv6 follows node:net's isIP (the unit test compares them).
 */

export type SshAddress = { username: string | null; host: string; port: number | null };
export type SshAddressPart = 'username' | 'host' | 'port';
export type SshAddressCheck = { ok: true; address: SshAddress } | { ok: false; part: SshAddressPart; message: string };

/** A Linux login name as useradd accepts it by default (lower case). */
const usernamePattern = /^[a-z_][a-z0-9_-]*\$?$/;
const maxUsernameLength = 32;

export function usernameProblem(name: string): string | null {
  if (name === '') return 'the user name before @ is empty';
  if (name.length > maxUsernameLength) return `the user name ${name} is longer than ${maxUsernameLength} characters`;
  if (!usernamePattern.test(name)) return `${name} is not a Linux user name (lower-case letters, digits, - and _, starting with a letter or _)`;
  return null;
}

/** Why `text` is not a dotted-quad IPv4 address, or null when it is one. */
export function ipv4Problem(text: string): string | null {
  const parts = text.split('.');
  if (parts.length !== 4) return `${text} is not an IPv4 address: it needs four numbers separated by dots, such as 10.0.0.7`;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return `${text} is not an IPv4 address: each of its four numbers is 0 to 255`;
    if (part.length > 1 && part.startsWith('0')) return `${text} is not an IPv4 address: ${part} has a leading zero, which some tools read as octal — write ${String(Number(part))}`;
    if (Number(part) > 255) return `${text} is not an IPv4 address: ${part} is more than 255`;
  }
  return null;
}

export function isIPv4(text: string): boolean {
  return ipv4Problem(text) === null;
}

/** IPv6 as node:net's isIPv6 accepts it: hex groups, one `::`, an IPv4 tail, a zone after %. */
export function isIPv6(text: string): boolean {
  const zoneAt = text.indexOf('%');
  const address = zoneAt === -1 ? text : text.slice(0, zoneAt);
  if (zoneAt !== -1 && !/^[0-9A-Za-z_.~-]+$/.test(text.slice(zoneAt + 1))) return false;
  const halves = address.split('::');
  if (halves.length > 2) return false;
  const groupsOf = (half: string): string[] | null => (half === '' ? [] : half.split(':'));
  const head = groupsOf(halves[0] ?? '');
  const tail = halves.length === 2 ? groupsOf(halves[1] ?? '') : [];
  if (head === null || tail === null) return false;
  const all = [...head, ...tail];
  // An IPv4 tail ends the address: not before a trailing `::`.
  const lastMayBeIPv4 = halves.length === 1 || tail.length > 0;
  let count = 0;
  for (const [index, group] of all.entries()) {
    if (/^[0-9A-Fa-f]{1,4}$/.test(group)) count += 1;
    else if (index === all.length - 1 && lastMayBeIPv4 && isIPv4(group)) count += 2;
    else return false;
  }
  return halves.length === 2 ? count <= 7 : count === 8;
}

/** A host name per RFC 1123: dot-separated labels of letters, digits and inner dashes. */
export function hostnameProblem(text: string): string | null {
  const name = text.endsWith('.') ? text.slice(0, -1) : text;
  if (name.length > 253) return `the host name is ${name.length} characters long; at most 253 are allowed`;
  for (const label of name.split('.')) {
    if (label === '') return `${text} is not a host name: it has an empty part between dots`;
    if (label.length > 63) return `${text} is not a host name: its part ${label.slice(0, 12)}… is longer than 63 characters`;
    const bad = /[^A-Za-z0-9-]/.exec(label)?.[0];
    if (bad !== undefined) return `${text} is not a host name: ${bad === ' ' ? 'a space' : `"${bad}"`} is not allowed (letters, digits, dots and dashes only)`;
    if (label.startsWith('-') || label.endsWith('-')) return `${text} is not a host name: a part may not start or end with a dash`;
  }
  return null;
}

/** Why `host` is not an IPv4 address, IPv6 address or host name; null when it is one. */
export function hostProblem(host: string): string | null {
  if (host === '') return 'the host is empty';
  // Digits and dots only is meant as IPv4 (a numeric top-level name does not exist).
  if (/^[\d.]+$/.test(host)) return ipv4Problem(host);
  if (host.includes(':')) return isIPv6(host) ? null : `${host} is not an IPv6 address`;
  return hostnameProblem(host);
}

function portProblem(text: string): string | null {
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > 65535) return `the port ${text === '' ? '(empty after the colon)' : text} is not a number from 1 to 65535`;
  return null;
}

/** Splits host[:port], [ipv6][:port] or a bare IPv6 address (no port). */
function splitHostPort(text: string): { host: string; port: string | null; bracketed: boolean } | { problem: string } {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close === -1) return { problem: `${text} has a [ without its ]` };
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return { problem: `after [${text.slice(1, close)}] only :port may follow` };
    return { host: text.slice(1, close), port: rest === '' ? null : rest.slice(1), bracketed: true };
  }
  const colons = text.split(':').length - 1;
  if (colons <= 1) {
    const [host = '', port] = text.split(':');
    return { host, port: port ?? null, bracketed: false };
  }
  return { host: text, port: null, bracketed: false }; // several colons: an IPv6 address without a port
}

/** Parses `[user@]host[:port]` (host an IPv4, [IPv6] or RFC 1123 name); a bare IPv6 has no port. */
export function parseSshAddress(input: string): SshAddressCheck {
  const text = input.trim();
  if (text === '') return { ok: false, part: 'host', message: 'the address is empty: give a host name or IP address, such as pi@10.0.0.7' };
  if (/\s/.test(text)) return { ok: false, part: 'host', message: `"${text}" has a space in it` };
  const at = text.lastIndexOf('@');
  const username = at === -1 ? null : text.slice(0, at);
  if (username !== null) {
    const problem = usernameProblem(username);
    if (problem !== null) return { ok: false, part: 'username', message: problem };
  }
  const split = splitHostPort(text.slice(at + 1));
  if ('problem' in split) return { ok: false, part: 'host', message: split.problem };
  const host = split.host;
  // Brackets are for IPv6 only (they keep its colons apart from the port's).
  const problem = split.bracketed && !isIPv6(host) ? `[${host}] is not an IPv6 address (brackets are for IPv6 only)` : hostProblem(host);
  if (problem !== null) return { ok: false, part: 'host', message: problem };
  if (split.port !== null) {
    const badPort = portProblem(split.port);
    if (badPort !== null) return { ok: false, part: 'port', message: badPort };
  }
  return { ok: true, address: { username, host, port: split.port === null ? null : Number(split.port) } };
}

/** `pi@10.0.0.7:22`, with brackets around an IPv6 host so the port stays readable. */
export function formatSshAddress(address: { username: string | null; host: string; port: number | null }): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  return `${address.username === null ? '' : `${address.username}@`}${host}${address.port === null ? '' : `:${String(address.port)}`}`;
}
