import { Button } from 'react-aria-components';
import type { Rollout } from '../../../shared/deploy.ts';
import { canResume, countStatuses } from './rolloutView.ts';

/** Earlier rollouts, newest first; a stopped one says so and can be opened and resumed. */
export function RolloutList({ rollouts, selected, resuming, onSelect, onResume }: { rollouts: readonly Rollout[]; selected: string | null; resuming: string | null; onSelect: (id: string) => void; onResume: (id: string) => void }) {
  if (rollouts.length === 0) return null;
  return (
    <section className="rollout-list" aria-labelledby="rollout-list-heading">
      <h2 id="rollout-list-heading" className="panel-heading">
        Rollouts
      </h2>
      <table className="data-table">
        <thead>
          <tr>
            <th>Bundle</th>
            <th className="col-state">State</th>
            <th className="col-count">Devices</th>
            <th>Started</th>
            <th>Stopped because</th>
            <th className="col-actions">
              <span className="visually-hidden">Open</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {rollouts.map((r) => {
            const c = countStatuses(r.devices);
            return (
              <tr key={r.id} className={`data-row has-state-edge rollout-summary${r.id === selected ? ' is-selected' : ''} is-${r.state === 'completed' && c.failed === 0 ? 'ok' : r.state === 'running' ? 'idle' : 'warn'}`} data-testid="rollout-row" data-state={r.state}>
                <td>
                  {r.bundleKind} {r.version}
                </td>
                <td>
                  <span className={`rollout-state is-${r.state}`}>{r.state}</span>
                </td>
                <td className="num">
                  {c.done} of {c.total} done{c.failed > 0 ? `, ${c.failed} failed` : ''}
                </td>
                <td className="num">{new Date(r.createdAt).toLocaleString()}</td>
                <td>{r.stopReason ?? ''}</td>
                <td className="row-actions">
                  <Button className="button is-small is-quiet" onPress={() => { onSelect(r.id); }} aria-label={`Open the rollout of ${r.version} started ${new Date(r.createdAt).toLocaleString()}`}>
                    Open
                  </Button>
                  {canResume(r) && (
                    <Button className="button is-small" onPress={() => { onResume(r.id); }} isPending={resuming === r.id} data-testid="resume-rollout-row" aria-label={`Resume the rollout of ${r.version} started ${new Date(r.createdAt).toLocaleString()}`}>
                      Resume
                    </Button>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
