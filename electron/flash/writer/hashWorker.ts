/**
 * SHA-256 off the main thread for the flash writers. With decompression and device I/O already
 * on libuv's pool, hashing (each written byte twice: while streaming and on read-back) was the
 * main thread's largest share, and a flash on a busy 2-core laptop waited on it. The drive's
 * blocks live in shared memory (driveWriter.ts), so the worker hashes them in place: a job
 * carries a view, not a copy. Jobs run in order; `run` resolves once the worker is done with
 * every view it was given, so the caller may then reuse the block.
 *
 * One worker per process, started on first use (starting one per flash cost ~50 ms, a
 * fifth of a small sparse flash on a busy laptop) and idle-unref'd; each drive hashes through
 * its own `HashScope`, which keeps its hash names apart and drops what a failed flash left.
 * The worker is inline JavaScript (no file of its own), so it runs the same from the bundled
 * helper as from source.
 */
import { Worker } from 'node:worker_threads';

/** Feed `bytes` into the hash named `key` (created on first use); `digest` ends it with its hex SHA-256. */
export type HashJob = { key: string; bytes?: Uint8Array; digest?: boolean };

const source = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', ({ id, jobs, drop }) => {
  if (drop !== undefined) {
    for (const key of hashes.keys()) if (key.startsWith(drop)) hashes.delete(key);
    parentPort.postMessage({ id, digests: [] });
    return;
  }
  const digests = [];
  for (const job of jobs) {
    let hash = hashes.get(job.key);
    if (hash === undefined) { hash = createHash('sha256'); hashes.set(job.key, hash); }
    if (job.bytes !== undefined) hash.update(job.bytes);
    if (job.digest === true) { digests.push(hash.digest('hex')); hashes.delete(job.key); }
  }
  parentPort.postMessage({ id, digests });
});
`;

type Reply = { id: number; digests: string[] };

class HashWorker {
  private readonly worker: Worker;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (digests: string[]) => void; reject: (error: Error) => void }>();
  private dead: Error | null = null;

  constructor() {
    this.worker = new Worker(source, { eval: true });
    // Idle, the worker must not keep the process alive; busy, it must (nothing else may be pending).
    this.worker.unref();
    this.worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) this.worker.unref();
      waiter?.resolve(reply.digests);
    });
    const fail = (error: Error): void => {
      this.dead ??= error;
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      fail(new Error(`the hashing worker exited (${code})`));
    });
  }

  get alive(): boolean {
    return this.dead === null;
  }

  /** Runs `jobs` in order; resolves with the digests asked for, in order. Views on non-shared memory are copied. */
  run(jobs: readonly HashJob[]): Promise<string[]> {
    return this.send({ jobs });
  }

  /** Forgets every unfinished hash whose name starts with `prefix`. */
  drop(prefix: string): Promise<string[]> {
    return this.send({ drop: prefix });
  }

  private send(message: { jobs: readonly HashJob[] } | { drop: string }): Promise<string[]> {
    if (this.dead !== null) return Promise.reject(this.dead);
    const id = this.nextId++;
    if (this.waiting.size === 0) this.worker.ref();
    const reply = new Promise<string[]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
    });
    this.worker.postMessage({ id, ...message });
    return reply;
  }
}

let worker: HashWorker | null = null;
let scopes = 0;

/** One caller's hashes (a drive's flash) on the process's worker, named apart from everyone else's. */
export class HashScope {
  private readonly prefix = `${scopes++}:`;

  /** Runs `jobs` in order; resolves with the digests asked for, in order, once the worker is done with every view. */
  run(jobs: readonly HashJob[]): Promise<string[]> {
    if (worker?.alive !== true) worker = new HashWorker();
    return worker.run(jobs.map((job) => ({ ...job, key: this.prefix + job.key })));
  }

  /** Drops the hashes a failed flash left unfinished. */
  async close(): Promise<void> {
    if (worker?.alive !== true) return;
    await worker.drop(this.prefix).catch(() => undefined);
  }
}
