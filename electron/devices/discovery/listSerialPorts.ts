/**
 * Serial ports worth offering: USB adapters, the Pi's UART, USB-gadget serial. On Linux,
 * serialport lists them through `udevadm`, which minimal systems (containers, WSL, CI) do
 * not have; there they are read from /sys instead, and the result says so. A source that
 * fails is reported, never a reason to fail discovery as a whole.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SerialPort } from 'serialport';
import { listSerialPortsFromSysfs, type SysfsRoots, type SysfsSerialPort } from './sysfsSerialPorts.ts';

export type SerialCandidate = { path: string; detail: string | null };
/** The ports found, and a sentence when they were found another way than usual or not at all. */
export type SerialListing = { ports: SerialCandidate[]; note: { state: 'degraded' | 'unavailable'; message: string } | null };

type PortInfo = Awaited<ReturnType<typeof SerialPort.list>>[number];

export type SerialListOptions = {
  platform?: NodeJS.Platform;
  /** The PATH searched for udevadm (default: this process's). */
  searchPath?: string;
  roots?: SysfsRoots;
  /** serialport's lister (the default); replaced only to check what happens when it fails. */
  listWithUdev?: () => Promise<PortInfo[]>;
};

/** Where `udevadm` is on `searchPath`, or null: serialport spawns it by name. */
export function findOnPath(program: string, searchPath: string): string | null {
  for (const dir of searchPath.split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, program), constants.X_OK);
      return join(dir, program);
    } catch {
      // not here
    }
  }
  return null;
}

/** Legacy on-board 16550 ports (/dev/ttyS0-31) list on every PC whether wired or not. */
const isLegacyPcPort = (path: string, vendorId: string | null | undefined) => vendorId == null && /\/ttyS\d+$/.test(path);

function candidateFromUdev(p: PortInfo): SerialCandidate {
  return {
    path: p.path,
    detail: [p.manufacturer, p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : undefined, p.serialNumber].filter(Boolean).join(' ') || null,
  };
}

function candidateFromSysfs(p: SysfsSerialPort): SerialCandidate {
  const usb = [p.manufacturer, p.product, p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : null, p.serialNumber].filter(Boolean).join(' ');
  return { path: p.path, detail: usb || p.byId || (p.driver === null ? null : `driver ${p.driver}`) };
}

function fromSysfs(roots: SysfsRoots | undefined, why: string): SerialListing {
  try {
    const ports = listSerialPortsFromSysfs(roots).filter((p) => !isLegacyPcPort(p.path, p.vendorId)).map(candidateFromSysfs);
    return { ports, note: { state: 'degraded', message: `serial ports: ${why} — listed from /sys instead` } };
  } catch (error) {
    return { ports: [], note: { state: 'unavailable', message: `serial ports unavailable: ${why}, and ${(error as Error).message}` } };
  }
}

export async function listSerialPorts(options: SerialListOptions = {}): Promise<SerialListing> {
  const platform = options.platform ?? process.platform;
  const listWithUdev = options.listWithUdev ?? (() => SerialPort.list());
  if (platform === 'linux' && options.listWithUdev === undefined && findOnPath('udevadm', options.searchPath ?? process.env.PATH ?? '') === null) {
    return fromSysfs(options.roots, 'udevadm not found');
  }
  let ports: PortInfo[];
  try {
    ports = await listWithUdev();
  } catch (error) {
    const why = `listing them failed (${(error as Error).message})`;
    if (platform === 'linux') return fromSysfs(options.roots, why);
    return { ports: [], note: { state: 'unavailable', message: `serial ports unavailable: ${why}` } };
  }
  return { ports: ports.filter((p) => !isLegacyPcPort(p.path, p.vendorId)).map(candidateFromUdev), note: null };
}
