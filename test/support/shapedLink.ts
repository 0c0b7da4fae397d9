/**
 * A shaped network path to a local TCP service, for the bench: a network namespace joined
 * to this one by a veth pair, each end's egress held by `tc netem` to a rate and a delay
 * (so the round trip is four one-way delays: in and out of the namespace, both ways; `tbf`,
 * rate only, on a kernel without netem), and
 * socat forwarding `host:port` through it to `127.0.0.1:targetPort`. Needs root and
 * iproute2 + socat (in .ci/run).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { waitFor } from './waitFor.ts';

export type ShapedLink = {
  host: string;
  port: number;
  /** False when this kernel has no netem (sch_netem): then only the rate is held (tbf), with no added delay. */
  delayed: boolean;
  stop(): Promise<void>;
};

/** Holds `dev`'s egress to the rate and one-way delay (netem), or to the rate alone (tbf) where netem is missing; true when delayed. */
function shape(prefix: string[], dev: string, rate: string, oneWay: string): boolean {
  try {
    run([...prefix, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'delay', oneWay, 'rate', rate, 'limit', '10000']);
    return true;
  } catch {
    run([...prefix, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', rate, 'burst', '32kbit', 'latency', '50ms']);
    return false;
  }
}

function run(args: string[]): void {
  execFileSync(args[0] ?? 'false', args.slice(1), { stdio: 'pipe' });
}

/** True when a connection to host:port delivers data within a second. */
function firstBytes(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => {
      done(false);
    });
    socket.once('data', () => {
      done(true);
    });
    socket.once('error', () => {
      done(false);
    });
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => {
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startShapedLink(options: { targetPort: number; rate: string; rttMs: number }): Promise<ShapedLink> {
  const tag = `fk${process.pid % 100_000}`;
  const ns = `${tag}-ns`;
  const [hostIf, nsIf] = [`${tag}h`, `${tag}n`];
  const [hostAddr, nsAddr] = ['10.77.0.1', '10.77.0.2'];
  const oneWay = `${Math.round((options.rttMs * 1000) / 4)}us`;
  const children: ChildProcess[] = [];
  const teardown = async (): Promise<void> => {
    for (const child of children) await stopChild(child);
    try {
      run(['ip', 'netns', 'del', ns]);
    } catch {
      // Not created (setup failed early).
    }
    try {
      run(['ip', 'link', 'del', hostIf]);
    } catch {
      // Gone with the namespace.
    }
  };
  try {
    run(['ip', 'netns', 'add', ns]);
    run(['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    run(['ip', 'link', 'set', nsIf, 'netns', ns]);
    run(['ip', 'addr', 'add', `${hostAddr}/30`, 'dev', hostIf]);
    run(['ip', 'link', 'set', hostIf, 'up']);
    run(['ip', 'netns', 'exec', ns, 'ip', 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf]);
    run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up']);
    run(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const delayed = shape([], hostIf, options.rate, oneWay) && shape(['ip', 'netns', 'exec', ns], nsIf, options.rate, oneWay);
    const relayPort = await freePort();
    const port = 22_022;
    children.push(spawn('socat', [`TCP-LISTEN:${relayPort},bind=${hostAddr},fork,reuseaddr`, `TCP:127.0.0.1:${options.targetPort}`], { stdio: 'ignore' }));
    children.push(spawn('ip', ['netns', 'exec', ns, 'socat', `TCP-LISTEN:${port},bind=${nsAddr},fork,reuseaddr`, `TCP:${hostAddr}:${relayPort}`], { stdio: 'ignore' }));
    // Ready once the service's first bytes (an SSH banner) come back through the whole path.
    await waitFor(() => firstBytes(nsAddr, port), { timeoutMs: 10_000, what: 'the shaped link to reach the service' });
    return { host: nsAddr, port, delayed, stop: teardown };
  } catch (error) {
    await teardown();
    throw error;
  }
}
