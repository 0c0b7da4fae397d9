import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SerialPort } from 'serialport';
import { afterAll, describe, expect, it } from 'vitest';
import { findOnPath, listSerialPorts } from '../../electron/devices/discovery/listSerialPorts.ts';
import { listSerialPortsFromSysfs } from '../../electron/devices/discovery/sysfsSerialPorts.ts';
import { makeTempDir } from '../support/tempDir.ts';

const fixture = resolve('test/fixtures/laptop-serial-sys');
const roots = { sys: join(fixture, 'sys'), dev: join(fixture, 'dev') };
const none = { vendorId: null, productId: null, manufacturer: null, product: null, serialNumber: null, byId: null };

/** Serial ports without udev: read from sysfs and /dev/serial/by-id. */
describe('serial ports from sysfs', () => {
  const dir = makeTempDir();
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const child of children) child.kill('SIGTERM');
    dir.remove();
  });

  it('reads driver and USB identity from a sysfs tree, and the by-id name', () => {
    expect(listSerialPortsFromSysfs(roots)).toEqual([
      { ...none, path: join(roots.dev, 'ttyACM0'), driver: 'cdc_acm', vendorId: '1d6b', productId: '0104', manufacturer: 'Raspberry Pi', product: 'fieldkit serial gadget', serialNumber: '10000000abcdef01' },
      { ...none, path: join(roots.dev, 'ttyAMA0'), driver: 'uart-pl011' },
      { ...none, path: join(roots.dev, 'ttyS0'), driver: 'serial8250' },
      {
        path: join(roots.dev, 'ttyUSB0'),
        driver: 'ftdi_sio',
        vendorId: '0403',
        productId: '6001',
        manufacturer: 'FTDI',
        product: 'FT232R USB UART',
        serialNumber: 'A50285BI',
        byId: 'usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0',
      },
    ]);
  });

  it('is used when udevadm is not on PATH, and says so', async () => {
    const listing = await listSerialPorts({ platform: 'linux', searchPath: dir.path, roots });
    expect(listing.note).toEqual({ state: 'degraded', message: 'serial ports: udevadm not found — listed from /sys instead' });
    // The legacy PC port is left out, as with udev.
    expect(listing.ports).toEqual([
      { path: join(roots.dev, 'ttyACM0'), detail: 'Raspberry Pi fieldkit serial gadget 1d6b:0104 10000000abcdef01' },
      { path: join(roots.dev, 'ttyAMA0'), detail: 'driver uart-pl011' },
      { path: join(roots.dev, 'ttyUSB0'), detail: 'FTDI FT232R USB UART 0403:6001 A50285BI' },
    ]);
  });

  it('is used when listing through udev fails, naming the failure', async () => {
    const listing = await listSerialPorts({ platform: 'linux', roots, listWithUdev: () => Promise.reject(new Error('Error listing ports udevadm exited with error code: 1')) });
    expect(listing.note?.message).toBe('serial ports: listing them failed (Error listing ports udevadm exited with error code: 1) — listed from /sys instead');
    expect(listing.ports.map((p) => p.path)).toContain(join(roots.dev, 'ttyUSB0'));
  });

  it.runIf(findOnPath('udevadm', process.env.PATH ?? '') === null)("falls back when serialport's own lister fails here (no udevadm on this machine)", async () => {
    const listing = await listSerialPorts({ platform: 'linux', roots, listWithUdev: () => SerialPort.list() });
    expect(listing.note?.message).toMatch(/^serial ports: listing them failed \(.*udevadm ENOENT\) — listed from \/sys instead$/);
    expect(listing.ports).toHaveLength(3);
  });

  it('says serial ports are unavailable, and why, when neither udev nor /sys can be read', async () => {
    const listing = await listSerialPorts({ platform: 'linux', searchPath: dir.path, roots: { sys: join(dir.path, 'no-sys'), dev: join(dir.path, 'no-dev') } });
    expect(listing).toEqual({
      ports: [],
      note: { state: 'unavailable', message: `serial ports unavailable: udevadm not found, and ${join(dir.path, 'no-sys', 'class', 'tty')} could not be read (ENOENT)` },
    });
  });

  it('lists the hardware ttys of this machine, as a shell walk of /sys finds them', () => {
    const expected = execFileSync('bash', ['-c', 'for t in /sys/class/tty/*; do n=${t##*/}; [ -e "$t/device" ] && [ -e "/dev/$n" ] && echo "/dev/$n"; done; true'], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .sort();
    const listed = listSerialPortsFromSysfs();
    expect(listed.map((p) => p.path).sort()).toEqual(expected);
    for (const port of listed) {
      const driverLink = `/sys/class/tty/${port.path.slice('/dev/'.length)}/device/driver`;
      expect(port.driver).toBe(existsSync(driverLink) ? realpathSync(driverLink).split('/').at(-1) : null);
    }
  });

  it('finds a real tty named in /dev/serial/by-id, and it carries bytes', async () => {
    const dev = join(dir.path, 'dev');
    mkdirSync(join(dev, 'serial', 'by-id'), { recursive: true });
    const near = join(dev, 'serial', 'by-id', 'usb-fieldkit_Test_Adapter_0001-if00-port0');
    const far = join(dir.path, 'far');
    const socat = spawn('socat', [`pty,link=${near},raw,echo=0`, `pty,link=${far},raw,echo=0`], { stdio: 'ignore' });
    children.push(socat);
    await expect.poll(() => existsSync(near) && existsSync(far), { timeout: 5000 }).toBe(true);

    const listing = listSerialPortsFromSysfs({ sys: '/sys', dev });
    const pty = realpathSync(near);
    expect(listing).toEqual([{ ...none, path: pty, driver: null, byId: 'usb-fieldkit_Test_Adapter_0001-if00-port0' }]);

    const port = new SerialPort({ path: pty, baudRate: 115200 });
    const other = new SerialPort({ path: far, baudRate: 115200 });
    try {
      const received = new Promise<string>((resolveText) => {
        let text = '';
        other.on('data', (chunk: Buffer) => {
          text += chunk.toString('utf8');
          if (text.includes('\n')) resolveText(text);
        });
      });
      // Both ends open before a byte is sent: opening a port flushes what waited in it.
      const opened = (p: SerialPort) =>
        new Promise<void>((done, fail) => {
          if (p.isOpen) done();
          else p.once('open', done).once('error', fail);
        });
      await Promise.all([opened(port), opened(other)]);
      port.write('hello from fieldkit\n');
      expect(await received).toBe('hello from fieldkit\n');
    } finally {
      const closed = (p: SerialPort) =>
        new Promise<void>((done) => {
          if (p.isOpen) p.close(() => { done(); });
          else done();
        });
      await Promise.all([closed(port), closed(other)]);
    }
  });
});
