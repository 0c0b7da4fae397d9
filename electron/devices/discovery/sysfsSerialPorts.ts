/**
 * Serial ports read straight from the kernel, for machines without udev (containers, WSL,
 * minimal installs), where serialport's lister spawns `udevadm` and fails:
 *
 * - `/sys/class/tty/<name>/device` exists only for a tty backed by hardware (a UART, a USB
 *   adapter, a gadget's ACM port); its `driver` link names the driver (ftdi_sio, cdc_acm,
 *   uart-pl011 …). Virtual consoles and ptys have none.
 * - A USB adapter's vendor, product and serial number are attributes of the USB device that
 *   is an ancestor of that device directory (idVendor, idProduct, manufacturer, serial).
 * - `/dev/serial/by-id` (made by udev where it runs) gives stable names; they are shown
 *   when present and also find ports when /sys cannot be read.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';

export type SysfsSerialPort = {
  path: string;
  driver: string | null;
  vendorId: string | null;
  productId: string | null;
  manufacturer: string | null;
  product: string | null;
  serialNumber: string | null;
  /** Its name in /dev/serial/by-id, when udev made one. */
  byId: string | null;
};

export type SysfsRoots = { sys: string; dev: string };

function readAttribute(dir: string, name: string): string | null {
  try {
    const text = readFileSync(join(dir, name), 'utf8').trim();
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

/** The nearest ancestor of `deviceDir` that is a USB device (it has idVendor), up to the sysfs root. */
function usbDeviceOf(deviceDir: string, sysRoot: string): string | null {
  let dir = deviceDir;
  while (relative(sysRoot, dir).startsWith('devices')) {
    if (existsSync(join(dir, 'idVendor'))) return dir;
    dir = dirname(dir);
  }
  return null;
}

/** /dev/serial/by-id names, keyed by the device node they point at. */
function byIdNames(devRoot: string): Map<string, string> {
  const dir = join(devRoot, 'serial', 'by-id');
  const names = new Map<string, string>();
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return names; // no udev: no by-id folder
  }
  for (const name of entries) {
    try {
      names.set(resolve(dir, readlinkSync(join(dir, name))), name);
    } catch {
      // not a link, or dangling: nothing to show
    }
  }
  return names;
}

/** The ttys under `<sys>/class/tty` that have a hardware device; throws when that folder cannot be read. */
function hardwareTtys(roots: SysfsRoots, byId: Map<string, string>): SysfsSerialPort[] {
  const classDir = join(roots.sys, 'class', 'tty');
  const sysRoot = realpathSync(roots.sys);
  const ports: SysfsSerialPort[] = [];
  for (const name of readdirSync(classDir).sort()) {
    let deviceDir: string;
    try {
      deviceDir = realpathSync(join(classDir, name, 'device'));
    } catch {
      continue; // virtual console, pty master, ptmx: no hardware behind it
    }
    const path = join(roots.dev, name);
    if (!existsSync(path)) continue; // the kernel has it, but this system has no node to open (a container)
    let driver: string | null;
    try {
      driver = basename(readlinkSync(join(deviceDir, 'driver')));
    } catch {
      driver = null; // a device without a bound driver
    }
    const usb = usbDeviceOf(deviceDir, sysRoot);
    ports.push({
      path,
      driver,
      vendorId: usb === null ? null : readAttribute(usb, 'idVendor'),
      productId: usb === null ? null : readAttribute(usb, 'idProduct'),
      manufacturer: usb === null ? null : readAttribute(usb, 'manufacturer'),
      product: usb === null ? null : readAttribute(usb, 'product'),
      serialNumber: usb === null ? null : readAttribute(usb, 'serial'),
      byId: byId.get(path) ?? null,
    });
  }
  return ports;
}

/**
 * Serial ports from sysfs and /dev/serial/by-id. Throws (saying what could not be read)
 * only when neither gives anything to go on.
 */
export function listSerialPortsFromSysfs(roots: SysfsRoots = { sys: '/sys', dev: '/dev' }): SysfsSerialPort[] {
  const byId = byIdNames(roots.dev);
  let ports: SysfsSerialPort[];
  try {
    ports = hardwareTtys(roots, byId);
  } catch (error) {
    if (byId.size === 0) throw new Error(`${join(roots.sys, 'class', 'tty')} could not be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { cause: error });
    ports = [];
  }
  // by-id links to ports sysfs did not show (no /sys in this container): still worth offering.
  for (const [path, name] of byId) {
    if (!ports.some((p) => p.path === path) && existsSync(path)) {
      ports.push({ path, driver: null, vendorId: null, productId: null, manufacturer: null, product: null, serialNumber: null, byId: name });
    }
  }
  return ports;
}
