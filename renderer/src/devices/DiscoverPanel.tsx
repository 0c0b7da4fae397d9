import { useMemo, useState } from 'react';
import { Button, Cell, Column, Disclosure, DisclosurePanel, Form, Heading, Row, SwitchButton, SwitchField, Table, TableBody, TableHeader } from 'react-aria-components';
import type { Device, Discovered, DiscoverySourceNote } from '../../../shared/devices.ts';
import { formatWhen } from '../format/time.ts';
import { JobProgressBar } from '../jobs/JobProgressBar.tsx';
import type { JobView } from '../jobs/jobStore.ts';
import { progressFigures } from '../jobs/progressFigures.ts';
import { useCancelJob } from '../jobs/useJobs.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { memoryKey, useRememberedState } from '../ui/ScreenMemory.tsx';
import { useNow } from '../ui/useNow.ts';
import type { AddDevicePrefill } from './deviceForm.ts';
import { discoveryAddressOf } from './deviceText.ts';
import { FormField } from '../ui/FormField.tsx';
import { useDiscovery } from './useDiscovery.ts';

const subnetPattern = /^\d{1,3}(\.\d{1,3}){3}\/(2[2-9]|3[0-2])$/;

type DiscoverErrors = { subnet?: string; port?: string; sources?: string };

/** The search as the technician set it, kept while they visit other screens (its result is the job's, kept by the jobs store). */
const subnetMemory = memoryKey<string>('devices.discover.subnet');
const portMemory = memoryKey<string>('devices.discover.port');
const mdnsMemory = memoryKey<boolean>('devices.discover.mdns');
const serialMemory = memoryKey<boolean>('devices.discover.serial');
const advancedMemory = memoryKey<boolean>('devices.discover.advanced');

/**
 * Look for devices on attached serial adapters, over mDNS, and by probing one subnet for
 * SSH. Runs as a job (progress, rate, Cancel); what it finds can be added in one step.
 */
export function DiscoverPanel({ devices, onAdd }: { devices: readonly Device[]; onAdd: (prefill: AddDevicePrefill) => void }) {
  const discovery = useDiscovery();
  const [subnet, setSubnet] = useRememberedState(subnetMemory, '');
  const [port, setPort] = useRememberedState(portMemory, '22');
  const [mdns, setMdns] = useRememberedState(mdnsMemory, true);
  const [serial, setSerial] = useRememberedState(serialMemory, true);
  const [errors, setErrors] = useState<DiscoverErrors>({});
  const [advancedOpen, setAdvancedOpen] = useRememberedState(advancedMemory, false);
  const running = discovery.job?.state === 'running' ? discovery.job : null;

  function start(): void {
    const next: DiscoverErrors = {};
    const cidr = subnet.trim();
    const portNumber = /^\d+$/.test(port.trim()) ? Number(port.trim()) : NaN;
    if (cidr !== '' && !subnetPattern.test(cidr)) next.subnet = 'An IPv4 subnet of /22 to /32, such as 192.168.1.0/24.';
    if (!(portNumber >= 1 && portNumber <= 65535)) next.port = 'A port from 1 to 65535.';
    if (cidr === '' && !mdns && !serial) next.sources = 'Choose somewhere to look: a subnet, mDNS or serial ports.';
    setErrors(next);
    if (next.port !== undefined) setAdvancedOpen(true);
    if (Object.keys(next).length > 0) return;
    discovery.start({ port: portNumber, mdns, serial, ...(cidr === '' ? {} : { subnet: cidr }) });
  }

  // The service names the field it refused (subnet, port); put it under that field.
  const startError = discovery.startError;
  const subnetError = errors.subnet ?? (startError?.field === 'subnet' ? startError.message : undefined);
  const portError = errors.port ?? (startError?.field === 'port' ? startError.message : undefined);
  const otherError = startError !== null && startError.field !== 'subnet' && startError.field !== 'port' ? startError : null;

  return (
    <section className="discover-panel" aria-labelledby="discover-heading" data-testid="discover-panel">
      <h2 id="discover-heading">Discover</h2>
      <Form
        className="discover-form"
        validationBehavior="aria"
        onSubmit={(event) => {
          event.preventDefault();
          start();
        }}
      >
        <FormField
          label="Subnet to probe for SSH"
          value={subnet}
          onChange={(value) => {
            setSubnet(value);
            setErrors(({ subnet: _answered, ...rest }) => rest);
          }}
          placeholder="192.168.1.0/24"
          error={subnetError}
          mono
          className="is-subnet"
          description="Optional. Up to /22 (1022 hosts)."
        />
        <DiscoverSources mdns={mdns} serial={serial} onMdns={setMdns} onSerial={setSerial} />
        <Disclosure className="advanced is-inline" isExpanded={advancedOpen} onExpandedChange={setAdvancedOpen}>
          <Heading className="advanced-heading">
            <Button slot="trigger" className="disclosure-trigger">
              <span className="disclosure-chevron" aria-hidden="true">
                ▸
              </span>
              Advanced{!advancedOpen && port.trim() !== '22' && <span className="muted"> · port {port}</span>}
            </Button>
          </Heading>
          <DisclosurePanel className="advanced-panel">
            <FormField
              label="SSH port"
              value={port}
              onChange={(value) => {
                setPort(value);
                setErrors(({ port: _answered, ...rest }) => rest);
              }}
              error={portError}
              numeric
              className="is-port"
            />
          </DisclosurePanel>
        </Disclosure>
        <div className="discover-start">
          <Button type="submit" className="button is-primary" isPending={discovery.starting} isDisabled={running !== null}>
            {discovery.starting ? 'Starting…' : 'Start'}
          </Button>
        </div>
      </Form>
      {errors.sources !== undefined && (
        <p className="field-error" role="alert">
          {errors.sources}
        </p>
      )}
      {otherError !== null && <ErrorNotice error={otherError} announce />}
      {running !== null ? <RunningDiscovery job={running} /> : discovery.job !== null && <DiscoveryOutcome job={discovery.job} found={discovery.found} probed={discovery.probed} sources={discovery.sources} devices={devices} onAdd={onAdd} />}
    </section>
  );
}

function RunningDiscovery({ job }: { job: JobView }) {
  const figures = progressFigures(job.progress);
  const { cancel, cancelling, error } = useCancelJob(job);
  const phase = job.progress?.phase ?? 'starting';
  const counted = job.progress?.unit === 'items' && job.progress.bytesTotal !== null;
  const doing = phaseWords[phase] ?? phase;
  return (
    <div className="discover-running" data-testid="discover-running">
      <div className="discover-progress">
        <JobProgressBar progress={job.progress} label={job.title} />
        <Button className="button is-small" onPress={cancel} isPending={cancelling} aria-label={`Cancel ${job.title}`}>
          {cancelling ? 'Cancelling…' : 'Cancel'}
        </Button>
      </div>
      <p className="discover-figures num" aria-live="polite">
        {doing}
        {counted && ` · ${figures.amount} hosts`}
        {figures.rate !== null && ` · ${figures.rate}`}
        {figures.eta !== null && ` · ${figures.eta} left`}
      </p>
      {error !== null && <ErrorNotice error={error} compact announce />}
    </div>
  );
}

/** The job's phases (electron/devices/discovery) as what the technician is waiting for. */
const phaseWords: Partial<Record<string, string>> = {
  starting: 'Starting…',
  'serial ports': 'Listing serial ports…',
  mDNS: 'Listening for mDNS (_ssh._tcp) announcements…',
  'probing hosts': 'Probing for SSH',
};

const sourceLabels: Record<Discovered['source'], string> = { mdns: 'mDNS', subnet: 'subnet probe', serial: 'serial ports' };

function DiscoveryOutcome({
  job,
  found,
  probed,
  sources,
  devices,
  onAdd,
}: {
  job: JobView;
  found: Discovered[] | null;
  probed: number | null;
  sources: DiscoverySourceNote[];
  devices: readonly Device[];
  onAdd: (prefill: AddDevicePrefill) => void;
}) {
  const now = useNow(60_000);
  // Marked from the device list too, so an entry added a moment ago reads as known.
  const registered = useMemo(() => new Set(devices.map((d) => discoveryAddressOf(d.link)).filter((a) => a !== null)), [devices]);
  const when = job.endedAt === null ? '' : ` at ${formatWhen(job.endedAt, now)}`;
  if (job.state === 'failed' && job.error !== null) {
    return (
      <div className="discover-outcome">
        <p className="discover-summary">Discovery{when} failed:</p>
        <ErrorNotice error={job.error} compact />
      </div>
    );
  }
  if (job.state === 'cancelled') return <p className="discover-summary muted">Discovery{when} was cancelled; nothing was added.</p>;
  if (found === null) return <p className="discover-summary muted">Discovery{when} finished, but its result could not be read.</p>;
  return (
    <div className="discover-outcome" data-testid="discover-result">
      <p className="discover-summary num">
        {found.length === 0 ? 'Nothing found' : `Found ${found.length}`}
        {probed !== null && probed > 0 && ` · ${probed} host${probed === 1 ? '' : 's'} probed`}
        {job.endedAt !== null && ` · finished ${formatWhen(job.endedAt, now)}`}
      </p>
      <SourceNotes notes={sources} />
      {found.length > 0 && (
        <Table aria-label="Found devices" className="data-table is-compact found-table">
          <TableHeader>
            <Column className="col-kind">Kind</Column>
            <Column isRowHeader className="col-address">
              Address
            </Column>
            <Column className="col-source">Found by</Column>
            <Column className="col-detail">Detail</Column>
            <Column className="col-known">Known</Column>
            <Column className="col-add">
              <span className="visually-hidden">Add</span>
            </Column>
          </TableHeader>
          <TableBody>
            {found.map((entry) => {
              const known = entry.known || registered.has(entry.address);
              return (
                <Row key={entry.address} id={entry.address} className={known ? 'data-row found-row is-known' : 'data-row found-row'} data-testid="discovered-row" data-address={entry.address} data-known={known}>
                  <Cell className="col-kind">{entry.kind === 'ssh' ? 'SSH' : 'Serial'}</Cell>
                  <Cell className="col-address">
                    <span className="mono">{entry.address}</span>
                    {entry.name !== null && <span className="found-name"> {entry.name}</span>}
                  </Cell>
                  <Cell className="col-source">{sourceLabels[entry.source]}</Cell>
                  <Cell className="col-detail">
                    {entry.detail === null ? <span className="muted">—</span> : <span className="found-detail" title={entry.detail}>{entry.detail}</span>}
                  </Cell>
                  <Cell className="col-known">{known ? <span className="tag is-known">Known</span> : <span className="muted">new</span>}</Cell>
                  <Cell className="col-add">
                    {!known && (
                      <Button
                        className="button is-small"
                        onPress={() => {
                          onAdd(prefillFrom(entry));
                        }}
                        aria-label={`Add ${entry.address}`}
                      >
                        Add…
                      </Button>
                    )}
                  </Cell>
                </Row>
              );
            })}
          </TableBody>
        </Table>
      )}
    </div>
  );
}

/**
 * A source that was searched another way or not at all, said where the result is read: an
 * empty list must not read as "nothing there" when serial ports could not be listed.
 */
function SourceNotes({ notes }: { notes: DiscoverySourceNote[] }) {
  if (notes.length === 0) return null;
  return (
    <ul className="discover-notes" data-testid="discover-notes">
      {notes.map((note) => (
        <li key={note.source} className={`discover-note is-${note.state}`} data-source={note.source} data-state={note.state}>
          {note.message}
        </li>
      ))}
    </ul>
  );
}

/** `10.0.0.7:22` → host and port. The port is after the last colon, since mDNS may report IPv6 hosts. */
function prefillFrom(entry: Discovered): AddDevicePrefill {
  if (entry.kind === 'serial') return { kind: 'serial', path: entry.address, name: entry.name };
  const colon = entry.address.lastIndexOf(':');
  const port = Number(entry.address.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port)) return { kind: 'ssh', host: entry.address, port: 22, name: entry.name };
  return { kind: 'ssh', host: entry.address.slice(0, colon), port, name: entry.name };
}

/** Where else to look besides the subnet: mDNS and the serial ports. */
function DiscoverSources({ mdns, serial, onMdns, onSerial }: { mdns: boolean; serial: boolean; onMdns: (on: boolean) => void; onSerial: (on: boolean) => void }) {
  return (
    <div className="discover-sources" role="group" aria-label="Also look">
      <SwitchField isSelected={mdns} onChange={onMdns}>
        <SwitchButton className="switch">
          <span className="switch-track" aria-hidden="true" />
          mDNS <span className="muted">(_ssh._tcp)</span>
        </SwitchButton>
      </SwitchField>
      <SwitchField isSelected={serial} onChange={onSerial}>
        <SwitchButton className="switch">
          <span className="switch-track" aria-hidden="true" />
          Serial ports
        </SwitchButton>
      </SwitchField>
    </div>
  );
}
