import { useRef } from 'react';
import { Button, Cell, Column, Menu, MenuItem, MenuTrigger, Popover, Row, Table, TableBody, TableHeader } from 'react-aria-components';
import type { Device } from '../../../shared/devices.ts';
import { useNow } from '../ui/useNow.ts';
import { formatAgo } from '../../../shared/format.ts';
import { clockWarning, deviceStatus, hostKeyChanged, linkLabel, needsHostKey } from './deviceText.ts';
import { tabThroughRows } from '../ui/tabThroughRows.ts';

export type DeviceActions = {
  checkHostKey: (device: Device) => void;
  connect: (device: Device) => void;
  edit: (device: Device) => void;
  remove: (device: Device) => void;
  /** Serial devices: provision the Pi on the cable (hostname, identity, key, sshd, network). */
  provision: (device: Device) => void;
  /** Enter (or a double click) on a row: the device's page on Health. */
  open: (device: Device) => void;
};

const exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** Every registered device, one dense row each, with what to do next on the right. */
export function DeviceTable({ devices, connecting, actions }: { devices: readonly Device[]; connecting: ReadonlySet<string>; actions: DeviceActions }) {
  const now = useNow(15_000);
  const byId = new Map(devices.map((device) => [device.id, device]));
  return (
    <div className="tab-scope" onKeyDownCapture={tabThroughRows}>
      <Table
        aria-label="Devices"
        className="data-table devices-table"
        onRowAction={(key) => {
          const device = byId.get(String(key));
          if (device !== undefined) actions.open(device);
        }}
      >
        <TableHeader>
          <Column isRowHeader className="col-name">
            Name
          </Column>
          <Column className="col-site">Site</Column>
          <Column className="col-link">Link</Column>
          <Column className="col-agent">Agent</Column>
          <Column className="col-agent-id">Device id</Column>
          <Column className="col-seen">Last seen</Column>
          <Column className="col-status">Status</Column>
          <Column className="col-actions">
            <span className="visually-hidden">Actions</span>
          </Column>
        </TableHeader>
        <TableBody renderEmptyState={() => <EmptyDevices />}>
          {devices.map((device) => {
            const status = deviceStatus(device);
            const clock = clockWarning(device.clockOffsetMs);
            return (
              <Row key={device.id} id={device.id} className={`data-row has-state-edge device-row is-${status.tone}`} data-testid="device-row" data-device-id={device.id} data-status={status.tone}>
                <Cell className="col-name">
                  <span className="device-name" title="Enter opens its Health page">
                    {device.name}
                  </span>
                </Cell>
                <Cell className="col-site">{device.site === '' ? <span className="muted">—</span> : device.site}</Cell>
                <Cell className="col-link">
                  <span className="device-link">{withBreakAfterAt(linkLabel(device.link))}</span>
                </Cell>
                <Cell className="col-agent num">{device.agentVersion ?? <span className="muted">—</span>}</Cell>
                <Cell className="col-agent-id">
                  {device.agentDeviceId === null ? (
                    <span className="muted">—</span>
                  ) : (
                    <span className="agent-device-id" data-testid="agent-device-id" title={device.journalId === null ? undefined : `journal ${device.journalId}`}>
                      {device.agentDeviceId}
                    </span>
                  )}
                </Cell>
                <Cell className="col-seen num">
                  {device.lastSeenMs === null ? (
                    <span className="muted">never</span>
                  ) : (
                    <span title={exactTime.format(device.lastSeenMs)}>{formatAgo(device.lastSeenMs, now)}</span>
                  )}
                  {clock !== null && (
                    <span className="tag is-caution clock-warning" title="Device clock minus this laptop's clock at the last contact. Event times from this Pi are corrected with it.">
                      {clock}
                    </span>
                  )}
                </Cell>
                <Cell className="col-status">
                  <p className={`device-status is-${status.tone}`}>
                    <span aria-hidden="true">{statusMark[status.tone]} </span>
                    {status.label}
                  </p>
                  {(status.tone === 'danger' || status.tone === 'warn') && status.detail !== null && (
                    <p className="device-status-detail" title={status.detail}>
                      {status.detail}
                    </p>
                  )}
                </Cell>
                <Cell className="col-actions">
                  <RowActions device={device} connecting={connecting.has(device.id)} actions={actions} />
                </Cell>
              </Row>
            );
          })}
        </TableBody>
      </Table>
    </div>
  );
}

const statusMark = { ok: '✓', idle: '○', warn: '!', danger: '✕' } as const;

/**
 * The next step as a button (check the key first, then connect; review a changed key
 * before anything else), the rest in a menu. Forgetting a pinned key is not here: it is
 * offered only from a changed-key warning, as a second step.
 */
function RowActions({ device, connecting, actions }: { device: Device; connecting: boolean; actions: DeviceActions }) {
  const firstContact = needsHostKey(device);
  const changed = hostKeyChanged(device);
  const moreButton = useRef<HTMLButtonElement>(null);
  return (
    <div className="row-actions">
      {firstContact ? (
        <Button className="button is-small is-primary" onPress={() => { actions.checkHostKey(device); }} aria-label={`Check host key of ${device.name}`}>
          Check host key
        </Button>
      ) : changed ? (
        <Button className="button is-small is-danger" onPress={() => { actions.checkHostKey(device); }} aria-label={`Review the changed host key of ${device.name}`}>
          Review key
        </Button>
      ) : (
        <Button className="button is-small" onPress={() => { actions.connect(device); }} isPending={connecting} aria-label={`Connect to ${device.name}`}>
          {connecting ? 'Connecting…' : 'Connect'}
        </Button>
      )}
      <MenuTrigger onOpenChange={(open) => { if (!open) focusAfterMenu(moreButton.current); }}>
        <Button ref={moreButton} className="button is-small is-quiet more-button" aria-label={`More actions for ${device.name}`}>
          <span aria-hidden="true">⋯</span>
        </Button>
        <Popover className="menu-popover" placement="bottom end">
          <Menu
            className="menu"
            onAction={(key) => {
              if (key === 'edit') actions.edit(device);
              else if (key === 'host-key') actions.checkHostKey(device);
              else if (key === 'connect') actions.connect(device);
              else if (key === 'remove') actions.remove(device);
              else if (key === 'provision') actions.provision(device);
            }}
          >
            <MenuItem id="edit" className="menu-item">
              Rename or change site…
            </MenuItem>
            {changed && (
              <MenuItem id="connect" className="menu-item">
                Try to connect again
              </MenuItem>
            )}
            {device.link.kind === 'ssh' && !firstContact && !changed && (
              <MenuItem id="host-key" className="menu-item">
                Compare host key…
              </MenuItem>
            )}
            {device.link.kind === 'serial' && (
              <MenuItem id="provision" className="menu-item">
                Provision over serial…
              </MenuItem>
            )}
            <MenuItem id="remove" className="menu-item is-danger">
              Remove…
            </MenuItem>
          </Menu>
        </Popover>
      </MenuTrigger>
    </div>
  );
}

/**
 * A closed menu gives focus back to its button, so Tab carries on along the row. Inside the
 * table's grid react-aria sends it on to the row instead; the first focus that lands on this
 * row is put back on the button. Anything else taking focus (a dialog the choice opened) or
 * the next key ends the watch.
 */
function focusAfterMenu(button: HTMLButtonElement | null): void {
  const row = button?.closest('[role="row"]');
  if (button == null || row == null) return;
  const stop = (): void => {
    document.removeEventListener('focusin', onFocusIn, true);
    document.removeEventListener('keydown', stop, true);
  };
  function onFocusIn(event: FocusEvent): void {
    if (event.target === button) return;
    stop();
    if (event.target === row) button?.focus();
  }
  document.addEventListener('focusin', onFocusIn, true);
  document.addEventListener('keydown', stop, true);
}

/** `ssh pi@10.0.0.7:2222` wraps after the @ when it must, never inside the address or port. */
function withBreakAfterAt(label: string) {
  const at = label.indexOf('@');
  if (at < 0) return label;
  return (
    <>
      {label.slice(0, at + 1)}
      <wbr />
      {label.slice(at + 1)}
    </>
  );
}

function EmptyDevices() {
  return (
    <p className="devices-empty">
      No devices yet. <strong>Add device</strong> registers a Pi by its address or serial port; <strong>Discover</strong> looks for them on this
      network and on attached USB serial adapters.
    </p>
  );
}
