/**
 * Whether a ClickHouse URL has the wrong scheme for its port: https:// to a port that answers
 * plain HTTP (OpenSSL then says "wrong version number"), or http:// to a port that speaks TLS
 * (the server drops the connection: "socket hang up"). Neither raw error tells the technician
 * what to change; asking the port once, after a failed test, does.
 */
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { appError, type AppError } from '../../shared/errors.ts';

const probeTimeoutMs = 3_000;

function endpoint(url: URL): { host: string; port: number } {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return { host, port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port) };
}

/** True when the port answers a plain HTTP request with an HTTP status line. */
function answersPlainHttp(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port });
    let head = '';
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(probeTimeoutMs, () => { done(false); });
    socket.once('error', () => { done(false); });
    socket.once('connect', () => socket.write(`GET /ping HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.length >= 8) done(head.startsWith('HTTP/1.'));
    });
    socket.once('end', () => { done(head.startsWith('HTTP/1.')); });
  });
}

/** True when the port completes a TLS handshake (or answers with a TLS alert: it speaks TLS). */
function speaksTls(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Only "does it speak TLS": the certificate is checked by the real connection, not here.
    const socket = connectTls({ host, port, rejectUnauthorized: false, ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }) });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(probeTimeoutMs, () => { done(false); });
    socket.once('secureConnect', () => { done(true); });
    socket.once('error', (error: Error) => { done(/\balert\b/i.test(error.message)); });
  });
}

/** The URL with only its scheme changed. */
function withScheme(url: URL, scheme: 'http:' | 'https:'): string {
  return `${scheme}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/** Says "use http://…" (or https://…) when the port speaks the other scheme; null when it does not, or cannot be asked. */
export async function schemeMismatch(urlText: string): Promise<AppError | null> {
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    return null;
  }
  const { host, port } = endpoint(url);
  if (url.protocol === 'https:' && (await answersPlainHttp(host, port))) return httpsToHttpPort(url);
  if (url.protocol === 'http:' && (await speaksTls(host, port))) {
    return appError(
      'BAD_REQUEST',
      `This server speaks https:// on port ${port}, not plain http://: use ${withScheme(url, 'https:')}.`,
      'Change the URL to https://… (and set the CA file if the server has a private CA).',
      'url',
    );
  }
  return null;
}

/** The refusal for https:// to a plain-HTTP port (also what OpenSSL's "wrong version number" means). */
export function httpsToHttpPort(url: URL): AppError {
  const { port } = endpoint(url);
  return appError(
    'BAD_REQUEST',
    `This server speaks http:// on port ${port}, not https://: use ${withScheme(url, 'http:')}.`,
    "Change the URL to http://…, or give the server's TLS port (often 8443) if it has one.",
    'url',
  );
}
