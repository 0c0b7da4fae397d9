/** The device registry in the laptop store. */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { DeviceSchema, StoredLinkSpecSchema, type Device, type LinkSpec } from '../../shared/devices.ts';
import { appError, FieldkitError } from '../../shared/errors.ts';
import { formatSshAddress } from '../../shared/sshAddress.ts';
import type { Store } from '../kernel/store/openStore.ts';

const RowSchema = z.object({
  id: z.string(),
  name: z.string(),
  site: z.string(),
  link: z.string(),
  host_key_fingerprint: z.string().nullable(),
  agent_device_id: z.string().nullable(),
  journal_id: z.string().nullable(),
  agent_version: z.string().nullable(),
  model_version: z.string().nullable(),
  clock_offset_ms: z.number().nullable(),
  last_seen_ms: z.number().nullable(),
  last_error: z.string().nullable(),
  added_ms: z.number(),
});

/** One address, one device: the same Pi added twice would split its custody. */
export function linkKey(link: LinkSpec): string {
  switch (link.kind) {
    case 'ssh':
      return `ssh:${link.username}@${link.host.toLowerCase()}:${link.port}`;
    case 'serial':
      return `serial:${link.path}`;
    case 'local':
      return `local:${link.agentCommand}`;
  }
}

/** Where a serial device's console password is kept (serial consoles ask at every login). */
export function serialPasswordSecret(deviceId: string): string {
  return `serial-password:${deviceId}`;
}

/** How a technician reads a link: `pi@10.0.0.7`, `/dev/ttyUSB0`, `local`. */
export function describeLink(link: LinkSpec): string {
  switch (link.kind) {
    case 'ssh':
      return formatSshAddress({ username: link.username, host: link.host, port: link.port === 22 ? null : link.port });
    case 'serial':
      return link.path;
    case 'local':
      return 'local';
  }
}

export type DeviceStore = ReturnType<typeof createDeviceStore>;

export type AgentContact = {
  agentDeviceId: string;
  journalId: string;
  agentVersion: string;
  modelVersion: string;
  clockOffsetMs: number;
  atMs: number;
};

export function createDeviceStore(db: Store) {
  const toDevice = (row: unknown): Device => {
    const r = RowSchema.parse(row);
    return DeviceSchema.parse({
      id: r.id,
      name: r.name,
      site: r.site,
      link: StoredLinkSpecSchema.parse(JSON.parse(r.link)),
      hostKeyFingerprint: r.host_key_fingerprint,
      agentDeviceId: r.agent_device_id,
      journalId: r.journal_id,
      agentVersion: r.agent_version,
      modelVersion: r.model_version,
      clockOffsetMs: r.clock_offset_ms,
      lastSeenMs: r.last_seen_ms,
      lastError: r.last_error,
      addedMs: r.added_ms,
    });
  };

  function get(id: string): Device {
    const row = db.prepare(`SELECT * FROM devices WHERE id = ?`).get(id);
    if (row === undefined) {
      throw new FieldkitError(appError('NOT_FOUND', `There is no device ${id}.`, 'List devices with `fieldkit devices` and use one of their ids.', 'id'));
    }
    return toDevice(row);
  }

  return {
    list(): Device[] {
      return db.prepare(`SELECT * FROM devices ORDER BY site, name, added_ms`).all().map(toDevice);
    },
    get,
    find(id: string): Device | null {
      const row = db.prepare(`SELECT * FROM devices WHERE id = ?`).get(id);
      return row === undefined ? null : toDevice(row);
    },
    add(input: { name?: string | undefined; site?: string | undefined; link: LinkSpec }, nowMs: number): Device {
      const key = linkKey(input.link);
      const found = db.prepare(`SELECT id, name FROM devices WHERE link_key = ?`).get(key);
      const existing = found === undefined ? undefined : RowSchema.pick({ id: true, name: true }).parse(found);
      if (existing) {
        throw new FieldkitError(
          appError('CONFLICT', `${describeLink(input.link)} is already registered as ${existing.name} (${existing.id}).`, 'Use that device, or remove it first.', 'link'),
        );
      }
      const id = `dev_${nowMs.toString(36)}${randomBytes(4).toString('hex')}`;
      db.prepare(`INSERT INTO devices (id, name, site, link, link_key, added_ms) VALUES (?, ?, ?, ?, ?, ?)`).run(
        id,
        input.name ?? describeLink(input.link),
        input.site ?? '',
        JSON.stringify(input.link),
        key,
        nowMs,
      );
      return get(id);
    },
    update(id: string, changes: { name?: string | undefined; site?: string | undefined }): Device {
      const device = get(id);
      db.prepare(`UPDATE devices SET name = ?, site = ? WHERE id = ?`).run(changes.name ?? device.name, changes.site ?? device.site, id);
      return get(id);
    },
    remove(id: string): void {
      get(id);
      db.prepare(`DELETE FROM devices WHERE id = ?`).run(id);
    },
    /** Replaces how a device is reached (the demo site's agents move with the app). */
    setLink(id: string, link: LinkSpec): Device {
      get(id);
      db.prepare(`UPDATE devices SET link = ?, link_key = ? WHERE id = ?`).run(JSON.stringify(link), linkKey(link), id);
      return get(id);
    },
    pinHostKey(id: string, fingerprint: string | null): Device {
      get(id);
      // A key decision settles whatever the last contact complained about.
      db.prepare(`UPDATE devices SET host_key_fingerprint = ?, last_error = NULL WHERE id = ?`).run(fingerprint, id);
      return get(id);
    },
    recordContact(id: string, contact: AgentContact): Device {
      db.prepare(
        `UPDATE devices SET agent_device_id = ?, journal_id = ?, agent_version = ?, model_version = ?, clock_offset_ms = ?, last_seen_ms = ?, last_error = NULL WHERE id = ?`,
      ).run(contact.agentDeviceId, contact.journalId, contact.agentVersion, contact.modelVersion, Math.round(contact.clockOffsetMs), contact.atMs, id);
      return get(id);
    },
    /** What a deploy left running (its health gate spoke to the agent): the version, and that the device answered. */
    recordDeployed(id: string, deployed: { agentVersion?: string; modelVersion?: string }, atMs: number): void {
      db.prepare(`UPDATE devices SET agent_version = coalesce(?, agent_version), model_version = coalesce(?, model_version), last_seen_ms = ?, last_error = NULL WHERE id = ?`).run(
        deployed.agentVersion ?? null,
        deployed.modelVersion ?? null,
        atMs,
        id,
      );
    },
    /**
     * The device answered at `atMs` (a live health sample): the one "last seen" both Devices and
     * Health show. Never moves it back (a late write from an older sample).
     */
    recordSeen(id: string, atMs: number): void {
      db.prepare(`UPDATE devices SET last_seen_ms = max(coalesce(last_seen_ms, 0), ?) WHERE id = ?`).run(atMs, id);
    },
    recordError(id: string, message: string): Device {
      db.prepare(`UPDATE devices SET last_error = ? WHERE id = ?`).run(message, id);
      return get(id);
    },
    knownAddresses(): Set<string> {
      return new Set(this.list().map((d) => (d.link.kind === 'ssh' ? `${d.link.host}:${d.link.port}` : d.link.kind === 'serial' ? d.link.path : '')));
    },
  };
}
