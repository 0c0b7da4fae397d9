import { useApi, useBridge } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { ClickHouseSection } from './ClickHouseSection.tsx';
import { HealthThresholdsSection } from './HealthThresholdsSection.tsx';
import { TrustSection } from './TrustSection.tsx';
import './settings.css';

/** Where the courier forwards to, and what this fieldkit is and where it keeps its data (what support asks for first). */
export function SettingsScreen() {
  const bridge = useBridge();
  const { value: info, error, loading } = useApi('app.info', {});
  const carrier = bridge.carrier === 'electron' ? 'Electron app (IPC)' : `Browser, via the web host at ${location.host}`;
  return (
    <div className="screen settings-screen">
      <header className="screen-header">
        <h1>Settings</h1>
      </header>
      {error !== null && <ErrorNotice error={error} announce />}
      <section aria-labelledby="about-heading" className="settings-section">
        <h2 id="about-heading">About this fieldkit</h2>
        <dl className="facts" data-testid="app-info">
          <Fact label="Version" value={info === null ? null : `${info.name} ${info.version}`} loading={loading} />
          <Fact label="Platform" value={info === null ? null : `${info.platform} (${info.arch})`} loading={loading} />
          <Fact label="Runtime" value={info?.runtime ?? null} loading={loading} />
          <Fact label="Data folder" value={info?.dataDir ?? null} loading={loading} mono />
          <Fact label="Connected as" value={carrier} loading={false} />
        </dl>
      </section>
      <ClickHouseSection />
      <HealthThresholdsSection />
      <TrustSection />
    </div>
  );
}

function Fact({ label, value, loading, mono = false }: { label: string; value: string | null; loading: boolean; mono?: boolean }) {
  return (
    <>
      <dt>{label}</dt>
      <dd className={mono && value !== null ? 'is-mono' : undefined}>{value ?? (loading ? '…' : '—')}</dd>
    </>
  );
}
