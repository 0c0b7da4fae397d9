/**
 * What the agent service's state means to a technician: a stopped, crashed, crash-looping
 * or wedged daemon, or a journal that cannot be written, is critical with what to do; a
 * sample that does not say (an agent older than the `service` field) is a warning, never
 * "OK". Pure, used by `evaluateAlerts` so the UI, the CLI and the health service agree.
 */
import type { AlertSeverity, HealthAlert } from './fleetHealth.ts';
import type { AgentService, HealthSample } from './health.ts';

type Draft = Omit<HealthAlert, 'sinceMs'>;

/** A daemon silent this long while its process lives is wedged (a long commit takes well under a second). */
export const WEDGED_AFTER_S = 8;
/** This many crashes within the sampler's 10-minute window is a crash loop, not bad luck. */
export const CRASH_LOOP_CRASHES = 3;

const redeploy = 'or redeploy the agent (Deploy screen, or `fieldkit deploy <bundle> --to <device>`)';
const logHint = 'Read why in its log on the Pi: `journalctl -u fieldkit-agent -n 100`';

function clock(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString().slice(11, 19) + ' UTC';
}

function startAction(s: AgentService): string {
  return s.manager === 'systemd'
    ? `Start it on the Pi: \`sudo systemctl start fieldkit-agent\` (and \`sudo systemctl enable fieldkit-agent\` so it starts at boot), ${redeploy}.`
    : `Start the agent daemon again (\`fieldkit-agent run\`, or restart what runs it — for the demo site, restart fieldkit), ${redeploy}.`;
}

function stoppedAlerts(s: AgentService): Draft[] {
  const what = s.manager === 'systemd' ? 'The fieldkit-agent service' : 'The agent daemon';
  const consequence = 'Nothing is journaled while it is down: producers\' events are refused and the uplink does not forward.';
  if (s.state === 'stopped') {
    return [{ code: 'agent-stopped', severity: 'critical', title: 'Agent service stopped', explanation: `${what} is stopped (${s.detail}). ${consequence}`, action: startAction(s) }];
  }
  if (s.state === 'failed') {
    const action =
      s.manager === 'systemd'
        ? `${logHint}; fix the cause (a full or read-only disk, a bad config), then \`sudo systemctl restart fieldkit-agent\`, ${redeploy}.`
        : `Look at the daemon's log for why it died, then start it again (\`fieldkit-agent run\`; for the demo site, restart fieldkit), ${redeploy}.`;
    const why = s.manager === 'systemd' ? 'and systemd is not restarting it' : 'it crashed or was killed, and nothing restarts it';
    return [{ code: 'agent-stopped', severity: 'critical', title: 'Agent service died', explanation: `${what} died (${s.detail}): ${why}. ${consequence}`, action }];
  }
  if (s.state === 'restarting') {
    const restarts = s.restarts === null ? '' : `, ${String(s.restarts)} automatic restarts so far`;
    const loop = s.recent_crashes >= CRASH_LOOP_CRASHES;
    return [
      {
        code: 'agent-crash-loop',
        severity: 'critical',
        title: loop ? `Agent crash-looping (${String(s.recent_crashes)} crashes in 10 min)` : 'Agent crashed, restarting',
        explanation: `The agent exited with an error and systemd starts it again in a few seconds (${s.detail}${restarts}). ${consequence}`,
        action: `${logHint}; a full or read-only disk, a bad config or a broken install are the usual causes. Fix it, ${redeploy}.`,
      },
    ];
  }
  return [];
}

function runningAlerts(s: AgentService): Draft[] {
  const out: Draft[] = [];
  const pid = s.pid === null ? '' : ` (pid ${String(s.pid)})`;
  const restart = s.manager === 'systemd' ? '`sudo systemctl restart fieldkit-agent`' : 'stop and start the agent daemon (for the demo site, restart fieldkit)';
  if (s.process_stopped) {
    out.push({
      code: 'agent-wedged',
      severity: 'critical',
      title: 'Agent frozen (process stopped)',
      explanation: `The agent's process${pid} is stopped by a signal (SIGSTOP or a debugger): it is alive but takes no events and answers nothing.`,
      action: `Resume it with \`sudo kill -CONT ${s.pid === null ? '<pid>' : String(s.pid)}\`, or restart it: ${restart}.`,
    });
  } else if (s.silent_s >= WEDGED_AFTER_S) {
    out.push({
      code: 'agent-wedged',
      severity: 'critical',
      title: `Agent not answering for ${String(Math.round(s.silent_s))} s`,
      explanation: `The agent's process${pid} runs but has not answered on its ingest port for ${String(Math.round(s.silent_s))} s${s.answered_ms === null ? '' : ` (last answer ${clock(s.answered_ms)})`}: it is wedged, so producers' events are not taken.`,
      action: `Restart it: ${restart} — everything it acknowledged is already in the journal. If it happens again, pull the journal and keep the agent log (\`journalctl -u fieldkit-agent\`).`,
    });
  }
  if (s.recent_crashes > 0) {
    const loop = s.recent_crashes >= CRASH_LOOP_CRASHES;
    const severity: AlertSeverity = loop ? 'critical' : 'warning';
    out.push({
      code: 'agent-crash-loop',
      severity,
      title: loop ? `Agent crash-looping (${String(s.recent_crashes)} crashes in 10 min)` : 'Agent restarted after a crash',
      explanation: `The agent died without a clean stop and was started again ${s.recent_crashes === 1 ? 'once' : `${String(s.recent_crashes)} times`} in the last 10 minutes${s.started_ms === null ? '' : ` (this run started ${clock(s.started_ms)})`}${loop ? ': it keeps crashing, and is down between restarts.' : '.'}`,
      action: `${logHint}; a full or read-only disk, a bad config or a broken install are the usual causes. Fix it, ${redeploy}.`,
    });
  }
  return out;
}

function journalAlerts(s: AgentService): Draft[] {
  if (s.journal_writable !== false) return [];
  return [
    {
      code: 'journal-not-writable',
      severity: 'critical',
      title: 'Journal not writable',
      explanation: `The agent cannot write its journal${s.journal_error === null ? '' : ` (${s.journal_error})`}: every event is refused. A card that turned read-only (worn out, or remounted after errors) or a wrong owner of the data folder does this.`,
      action: 'Pull the journal now (Courier → Pull) while it can still be read; then check the card (`dmesg` for I/O errors, `mount` for ro) and the data folder\'s owner, and replace a worn card.',
    },
  ];
}

/** The alerts the agent service's state raises (none when it runs and answers). */
export function serviceAlerts(sample: HealthSample): Draft[] {
  const s = sample.service;
  if (s === undefined) {
    return [
      {
        code: 'agent-service-unknown',
        severity: 'warning',
        title: 'Agent service state unknown (agent too old)',
        explanation: `Agent ${sample.agent_version} does not report whether its service runs, so fieldkit cannot tell a stopped or crashed agent from a running one: these figures come from the process fieldkit started to ask.`,
        action: `Deploy the current agent (Deploy screen, or \`fieldkit deploy <bundle> --to <device>\`); until then check it on the Pi with \`systemctl status fieldkit-agent\`.`,
      },
    ];
  }
  if (s.state === 'unknown') {
    return [
      {
        code: 'agent-service-unknown',
        severity: 'warning',
        title: 'Agent service state unknown',
        explanation: `fieldkit could not find out whether the agent service runs (${s.detail}).`,
        action: 'Check it on the Pi: `systemctl status fieldkit-agent`.',
      },
      ...journalAlerts(s),
    ];
  }
  const starting: Draft[] =
    s.state === 'starting' || s.state === 'stopping'
      ? [{ code: 'agent-stopped', severity: 'warning', title: `Agent service ${s.state}`, explanation: `The agent service is ${s.state} (${s.detail}).`, action: 'Wait a few seconds; if it stays so, restart it (`sudo systemctl restart fieldkit-agent`).' }]
      : [];
  const running = s.state === 'running' || s.state === 'starting' ? runningAlerts(s) : [];
  return [...stoppedAlerts(s), ...starting, ...running, ...journalAlerts(s)];
}

/** The service in a few words, for the device page and `fieldkit health DEVICE`: "running (systemd active/running, pid 812)". */
export function describeService(sample: Pick<HealthSample, 'service'>): string {
  const s = sample.service;
  if (s === undefined) return 'unknown (agent too old to say)';
  const how = s.manager === 'systemd' ? `systemd ${s.detail}` : s.detail;
  const parts = [how];
  if (s.state === 'running' && s.pid !== null && s.manager === 'systemd') parts.push(`pid ${String(s.pid)}`);
  if (s.state === 'running' && s.silent_s > 0) parts.push(`not answering for ${String(Math.round(s.silent_s))} s`);
  if (s.process_stopped) parts.push('process stopped');
  if (s.restarts !== null && s.restarts > 0) parts.push(`${String(s.restarts)} restarts`);
  if (s.recent_crashes > 0) parts.push(`${String(s.recent_crashes)} crashes in 10 min`);
  if (s.journal_writable === false) parts.push('journal not writable');
  return `${s.state} (${parts.join(', ')})`;
}
