/**
 * A real ClickHouse cluster for tests: Debian's ZooKeeper (standalone, on a free loopback
 * port) and four 18.16 clickhouse-server processes on 127.0.0.1, each with its own ports
 * and folder, forming 2 shards × 2 replicas (`internal_replication` true: a Distributed
 * insert writes one replica per shard and replication copies it to the other). Each server
 * has its `{shard}` / `{replica}` macros and the distributed-DDL queue, so `ON CLUSTER`
 * DDL runs on all four.
 *
 * One cluster per test file (startup is a few seconds, mostly ZooKeeper's JVM). Every
 * process is started in its own process group and `stop()` kills the group; if the test
 * process dies without `stop()`, an exit hook still kills them.
 *
 * The replicated tables keep insert-dedup hashes for `dedupWindow` blocks (default 2: the
 * production default is 100 on 18.16 and 1000 later) and the cleanup thread runs every
 * second, so a test gets "beyond the dedup window" after a few inserts.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clickHouseConfigXml, clickHouseUsersXml } from '../../electron/demo/clickhouseConfig.ts';
import { freePort } from '../../electron/kernel/net/freePort.ts';
import { makeTempDir } from './tempDir.ts';
import { waitFor } from './waitFor.ts';

const SERVER_BINARIES = ['/usr/bin/clickhouse-server', '/usr/sbin/clickhouse-server'];
const CLIENT_BINARY = '/usr/bin/clickhouse-client';
const ZOOKEEPER_JAR = '/usr/share/java/zookeeper.jar';
/** slf4j's simple binding: ZooKeeper logs to stderr, kept in zookeeper.log (the rest of its classpath is in zookeeper.jar's manifest). */
const SLF4J_SIMPLE_JAR = '/usr/share/java/slf4j-simple.jar';

export type ClusterNode = {
  readonly name: string;
  /** '01' or '02'. */
  readonly shard: string;
  readonly url: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  readonly dir: string;
  /** One statement over HTTP; the body (TabSeparated unless the SQL says FORMAT). */
  query(sql: string): Promise<string>;
  /** One statement with clickhouse-client over the native protocol. */
  client(sql: string): Promise<string>;
  /** SIGKILL to the server's process group; resolves once it is gone. */
  kill(): Promise<void>;
  /** Starts it again on the same ports and data; resolves once it answers SELECT 1. */
  start(): Promise<void>;
  readonly running: boolean;
};

export type ClickHouseCluster = {
  /** The name in remote_servers (what fieldkit's cluster setting names). */
  readonly name: string;
  /** ch1, ch2 (shard 01), ch3, ch4 (shard 02). */
  readonly nodes: readonly ClusterNode[];
  readonly zooKeeperPort: number;
  stop(): Promise<void>;
};

/** A spawned process in its own group, killed as a group. */
type Group = { child: ChildProcess; exited: Promise<void>; alive: boolean };

const liveGroups = new Set<Group>();
let exitHookInstalled = false;

function spawnGroup(command: string, args: readonly string[], cwd: string, logFile?: string): Group {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    // A test process that ends without stop() (a crash, a timeout) leaves nothing behind.
    process.once('exit', () => {
      for (const g of liveGroups) killGroup(g);
    });
  }
  const log = logFile === undefined ? 'ignore' : openSync(logFile, 'a');
  const child = spawn(command, args, { cwd, detached: true, stdio: ['ignore', log, log] });
  if (typeof log === 'number') closeSync(log);
  const group: Group = { child, alive: true, exited: Promise.resolve() };
  group.exited = new Promise((resolve) => child.once('exit', () => {
    group.alive = false;
    liveGroups.delete(group);
    resolve();
  }));
  liveGroups.add(group);
  return group;
}

function killGroup(group: Group): void {
  if (!group.alive || group.child.pid === undefined) return;
  try {
    process.kill(-group.child.pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function stopGroup(group: Group | null): Promise<void> {
  if (group === null) return;
  killGroup(group);
  await group.exited;
}

async function httpQuery(url: string, sql: string): Promise<string> {
  const response = await fetch(url, { method: 'POST', body: sql, signal: AbortSignal.timeout(30_000) });
  const body = await response.text();
  if (!response.ok) throw new Error(`ClickHouse answered ${response.status}: ${body.trim()}`);
  return body;
}

/**
 * ZooKeeper's four-letter `srvr`: true once it reports a mode. Not `ruok`, which answers
 * `imok` while the server is still loading and closes clients' sessions as "not running".
 */
function zooKeeperServing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.setTimeout(1000, () => socket.destroy());
    socket.on('connect', () => socket.end('srvr'));
    socket.on('data', (chunk: Buffer) => { answer += chunk.toString(); });
    socket.on('close', () => { resolve(/^Mode: standalone$/m.test(answer)); });
    socket.on('error', () => { resolve(false); });
  });
}

async function startZooKeeper(dir: string): Promise<{ port: number; group: Group }> {
  if (!existsSync(ZOOKEEPER_JAR)) throw new Error('ZooKeeper is not installed: apt-get install zookeeper');
  const port = await freePort();
  mkdirSync(join(dir, 'data'), { recursive: true });
  // A short tick: sessions of a killed server expire in seconds, not the default 30 s.
  writeFileSync(join(dir, 'zoo.cfg'), [
    'tickTime=500', `dataDir=${dir}/data`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1',
    'admin.enableServer=false', 'maxClientCnxns=0', '4lw.commands.whitelist=srvr', 'forceSync=no', '',
  ].join('\n'));
  const group = spawnGroup('java', ['-Xmx192m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', `${ZOOKEEPER_JAR}:${SLF4J_SIMPLE_JAR}`,
    'org.apache.zookeeper.server.ZooKeeperServerMain', join(dir, 'zoo.cfg')], dir, join(dir, 'zookeeper.log'));
  await waitFor(async () => {
    if (!group.alive) throw new Error('ZooKeeper exited at start');
    return zooKeeperServing(port);
  }, { timeoutMs: 60_000, what: `ZooKeeper to serve on port ${port}`, intervalMs: 100 });
  return { port, group };
}

type NodePorts = { name: string; shard: string; http: number; tcp: number; interserver: number };

function clusterConfigXml(name: string, node: NodePorts, all: readonly NodePorts[], zooKeeperPort: number, dedupWindow: number): string {
  const shards = ['01', '02'].map((shard) => `      <shard><internal_replication>true</internal_replication>
${all.filter((n) => n.shard === shard).map((n) => `        <replica><host>127.0.0.1</host><port>${n.tcp}</port></replica>`).join('\n')}
      </shard>`).join('\n');
  return `  <interserver_http_port>${node.interserver}</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <zookeeper>
    <node><host>127.0.0.1</host><port>${zooKeeperPort}</port></node>
    <session_timeout_ms>4000</session_timeout_ms>
    <operation_timeout_ms>3000</operation_timeout_ms>
  </zookeeper>
  <macros><shard>${node.shard}</shard><replica>${node.name}</replica></macros>
  <remote_servers>
    <${name}>
${shards}
    </${name}>
  </remote_servers>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <merge_tree>
    <replicated_deduplication_window>${dedupWindow}</replicated_deduplication_window>
    <cleanup_delay_period>1</cleanup_delay_period>
    <cleanup_delay_period_random_add>0</cleanup_delay_period_random_add>
  </merge_tree>
`;
}

function makeNode(binary: string, root: string, ports: NodePorts, config: string): ClusterNode {
  const dir = join(root, ports.name);
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'config.xml'), clickHouseConfigXml(dir, ports.http, ports.tcp).replace('</yandex>', `${config}</yandex>`));
  writeFileSync(join(dir, 'users.xml'), clickHouseUsersXml([]));
  const url = `http://127.0.0.1:${ports.http}/`;
  let group: Group | null = null;

  async function start(): Promise<void> {
    if (group?.alive === true) throw new Error(`${ports.name} is already running`);
    const started = spawnGroup(binary, [`--config-file=${join(dir, 'config.xml')}`], dir);
    group = started;
    await waitFor(async () => {
      if (!started.alive) {
        const log = existsSync(join(dir, 'server.err.log')) ? readFileSync(join(dir, 'server.err.log'), 'utf8').slice(-2000) : '';
        throw new Error(`clickhouse-server ${ports.name} exited at start: ${log}`);
      }
      return (await httpQuery(url, 'SELECT 1')).trim() === '1';
    }, { timeoutMs: 60_000, what: `clickhouse-server ${ports.name} to answer SELECT 1` });
  }

  return {
    name: ports.name,
    shard: ports.shard,
    url,
    httpPort: ports.http,
    tcpPort: ports.tcp,
    dir,
    query: (sql) => httpQuery(url, sql),
    async client(sql) {
      const { stdout } = await promisify(execFile)(CLIENT_BINARY, ['--host', '127.0.0.1', '--port', String(ports.tcp), '--query', sql], { timeout: 30_000 });
      return stdout;
    },
    kill: () => stopGroup(group),
    start,
    get running() {
      return group?.alive === true;
    },
  };
}

/** ZooKeeper and four servers (2 shards × 2 replicas) named `name` in remote_servers; all answering when it resolves. */
export async function startClickHouseCluster(options: { name?: string; dedupWindow?: number } = {}): Promise<ClickHouseCluster> {
  const binary = SERVER_BINARIES.find((p) => existsSync(p));
  if (binary === undefined) throw new Error('clickhouse-server is not installed: apt-get install clickhouse-server clickhouse-client');
  const name = options.name ?? 'fieldkit_test';
  const tmp = makeTempDir('fieldkit-chcluster-');
  let zooKeeper: Group | null = null;
  const nodes: ClusterNode[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.kill()));
    await stopGroup(zooKeeper);
    tmp.remove();
  };
  try {
    const zk = await startZooKeeper(join(tmp.path, 'zookeeper'));
    zooKeeper = zk.group;
    const ports: NodePorts[] = [];
    for (const [i, shard] of ['01', '01', '02', '02'].entries()) {
      ports.push({ name: `ch${i + 1}`, shard, http: await freePort(), tcp: await freePort(), interserver: await freePort() });
    }
    for (const p of ports) nodes.push(makeNode(binary, tmp.path, p, clusterConfigXml(name, p, ports, zk.port, options.dedupWindow ?? 2)));
    await Promise.all(nodes.map((n) => n.start()));
    return { name, nodes, zooKeeperPort: zk.port, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
