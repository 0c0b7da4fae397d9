/** Serial ports worth offering: USB adapters, the Pi's UART, USB-gadget serial. */
import { SerialPort } from 'serialport';

export type SerialCandidate = { path: string; detail: string | null };

export async function listSerialPorts(): Promise<SerialCandidate[]> {
  const ports = await SerialPort.list();
  return ports
    // Legacy on-board 16550 ports (/dev/ttyS0-31) list on every PC whether wired or not.
    .filter((p) => p.vendorId !== undefined || !/\/ttyS\d+$/.test(p.path))
    .map((p) => ({
      path: p.path,
      detail: [p.manufacturer, p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : undefined, p.serialNumber].filter(Boolean).join(' ') || null,
    }));
}
