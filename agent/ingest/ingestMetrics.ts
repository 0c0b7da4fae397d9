/**
 * What the agent reports at /metrics: ingest counters kept here, journal and health
 * gauges read at scrape time. Names follow Prometheus conventions (base units, counters
 * end in _total) so `promtool check metrics` accepts them.
 */
import type { HealthSample, ThrottleFlags } from '../../shared/health.ts';
import type { Journal } from '../journal/journalApi.ts';
import {
  createCounter,
  createHistogram,
  gauge,
  renderExposition,
  type Counter,
  type Histogram,
  type MetricFamily,
  type Sample,
} from './prometheusText.ts';

export type IngestSource = 'http' | 'mqtt';
export type IngestRejectReason =
  | 'invalid_json'
  | 'invalid_event'
  | 'too_large'
  | 'unsupported_media_type'
  | 'backpressure'
  | 'journal_full'
  | 'storage_error';

const rejectReasons: readonly IngestRejectReason[] = ['invalid_json', 'invalid_event', 'too_large', 'unsupported_media_type', 'backpressure', 'journal_full', 'storage_error'];

/** Latest health sample, or null when none is available (no sampler in this process). */
export type HealthProvider = () => Promise<HealthSample | null>;

export type IngestMetrics = {
  events: Counter;
  rejected: Counter;
  clockSuspect: Counter;
  commits: Counter;
  mqttMessages: Counter;
  httpDuration: Histogram;
  /** 1 connected, 0 not, null when MQTT is not configured. */
  mqttConnected: number | null;
};

export function createIngestMetrics(): IngestMetrics {
  return {
    events: createCounter('fieldkit_agent_ingest_events_total', 'Events durably appended to the journal and acknowledged, by source.', [{ source: 'http' }, { source: 'mqtt' }]),
    rejected: createCounter(
      'fieldkit_agent_ingest_rejected_total',
      'Requests or messages refused, by reason (nothing of a refused batch is stored).',
      rejectReasons.map((reason) => ({ reason })),
    ),
    clockSuspect: createCounter(
      'fieldkit_agent_clock_suspect_events_total',
      'Events accepted with a time before 2024 (a clock not yet set, e.g. no RTC); kept as sent, corrected downstream by the courier clock offset.',
    ),
    commits: createCounter('fieldkit_agent_journal_commits_total', 'Journal transactions that appended events (group commits).'),
    mqttMessages: createCounter('fieldkit_agent_mqtt_messages_total', 'MQTT messages handled, by outcome.', [{ outcome: 'accepted' }, { outcome: 'invalid' }]),
    httpDuration: createHistogram('fieldkit_agent_http_request_duration_seconds', 'HTTP request duration, from request to response, by route.', [
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
    ]),
    mqttConnected: null,
  };
}

const flagNames: readonly (keyof ThrottleFlags)[] = ['under_voltage', 'arm_freq_capped', 'throttled', 'soft_temp_limit'];

function optionalGauge(name: string, help: string, value: number | null | undefined): MetricFamily[] {
  return value === null || value === undefined ? [] : [gauge(name, help, value)];
}

/** Health gauges from one sample (fields the Pi does not have are left out). */
export function healthFamilies(sample: HealthSample): MetricFamily[] {
  const families: MetricFamily[] = [
    gauge('fieldkit_agent_health_uptime_seconds', 'System uptime.', sample.uptime_s),
    gauge('fieldkit_agent_health_load1', 'Load average over 1 minute.', sample.load[0]),
    gauge('fieldkit_agent_health_load5', 'Load average over 5 minutes.', sample.load[1]),
    gauge('fieldkit_agent_health_load15', 'Load average over 15 minutes.', sample.load[2]),
    gauge('fieldkit_agent_health_memory_total_bytes', 'Total memory.', sample.mem_total_bytes),
    gauge('fieldkit_agent_health_memory_available_bytes', 'Memory available without swapping.', sample.mem_available_bytes),
    gauge('fieldkit_agent_health_disk_total_bytes', 'Size of the filesystem holding path.', sample.disks.map((d) => ({ labels: { path: d.path }, value: d.total_bytes }))),
    gauge('fieldkit_agent_health_disk_free_bytes', 'Free bytes on the filesystem holding path.', sample.disks.map((d) => ({ labels: { path: d.path }, value: d.free_bytes }))),
    gauge('fieldkit_agent_health_journal_backlog_records', 'Journal records not yet confirmed forwarded to ClickHouse.', sample.journal.backlog_records),
    gauge('fieldkit_agent_health_ingest_rate', 'Events ingested per second, recently.', sample.journal.ingest_per_s),
  ];
  families.push(...optionalGauge('fieldkit_agent_health_cpu_usage_ratio', 'CPU busy share since the previous sample (0 to 1).', sample.cpu_pct === null ? null : sample.cpu_pct / 100));
  families.push(...optionalGauge('fieldkit_agent_health_temperature_celsius', 'SoC temperature (thermal_zone0).', sample.temp_c));
  if (sample.throttling !== null) {
    const t = sample.throttling;
    families.push(gauge('fieldkit_agent_health_throttled_raw', 'vcgencmd get_throttled, raw bits.', t.raw));
    const samples: Sample[] = [];
    for (const flag of flagNames) {
      samples.push({ labels: { flag, scope: 'now' }, value: t.now[flag] ? 1 : 0 });
      samples.push({ labels: { flag, scope: 'since_boot' }, value: t.since_boot[flag] ? 1 : 0 });
    }
    families.push(gauge('fieldkit_agent_health_throttle_flag', 'Throttling flags from vcgencmd get_throttled (1 set), now or since boot.', samples));
  }
  families.push(...optionalGauge('fieldkit_agent_health_volt_alarm', 'hwmon rpi_volt under-voltage alarm (1 set).', sample.volt_alarm === null ? null : Number(sample.volt_alarm)));
  if (sample.emmc !== null) {
    const lifeSamples: Sample[] = [];
    if (sample.emmc.life_time_a !== null) lifeSamples.push({ labels: { device: sample.emmc.device, type: 'a' }, value: sample.emmc.life_time_a });
    if (sample.emmc.life_time_b !== null) lifeSamples.push({ labels: { device: sample.emmc.device, type: 'b' }, value: sample.emmc.life_time_b });
    if (lifeSamples.length > 0) families.push(gauge('fieldkit_agent_health_emmc_life_time_estimate', 'eMMC life time estimate (1 = 0-10% used … 11 = exceeded).', lifeSamples));
    if (sample.emmc.pre_eol_info !== null) {
      families.push(gauge('fieldkit_agent_health_emmc_pre_eol_info', 'eMMC pre-EOL info (1 normal, 2 warning, 3 urgent).', [{ labels: { device: sample.emmc.device }, value: sample.emmc.pre_eol_info }]));
    }
  }
  if (sample.nvme !== null) {
    const device = { device: sample.nvme.device };
    families.push(gauge('fieldkit_agent_health_nvme_percentage_used', 'NVMe endurance used (percent, may exceed 100).', [{ labels: device, value: sample.nvme.percentage_used }]));
    families.push(gauge('fieldkit_agent_health_nvme_critical_warning', 'NVMe critical warning bits.', [{ labels: device, value: sample.nvme.critical_warning }]));
    families.push(gauge('fieldkit_agent_health_nvme_media_errors', 'NVMe media and data integrity errors.', [{ labels: device, value: sample.nvme.media_errors }]));
    if (sample.nvme.temperature_c !== null) families.push(gauge('fieldkit_agent_health_nvme_temperature_celsius', 'NVMe composite temperature.', [{ labels: device, value: sample.nvme.temperature_c }]));
  }
  if (sample.inference !== null) {
    families.push(gauge('fieldkit_agent_health_inference_latency_p50_seconds', 'Median inference latency from recent inference events.', sample.inference.p50_ms / 1000));
    families.push(gauge('fieldkit_agent_health_inference_latency_p95_seconds', '95th percentile inference latency from recent inference events.', sample.inference.p95_ms / 1000));
  }
  return families;
}

export type MetricsSources = {
  metrics: IngestMetrics;
  journal: Journal;
  agentVersion: string;
  startedMs: number;
  health?: HealthProvider | undefined;
};

/** The whole /metrics page. */
export async function renderMetrics(sources: MetricsSources): Promise<string> {
  const { metrics, journal } = sources;
  const info = journal.info();
  const families: MetricFamily[] = [
    gauge('fieldkit_agent_info', 'Agent identity (always 1).', [
      { labels: { version: sources.agentVersion, device_id: info.device_id, journal_id: info.journal_id }, value: 1 },
    ]),
    gauge('fieldkit_agent_process_uptime_seconds', 'Seconds since this agent process started.', (Date.now() - sources.startedMs) / 1000),
    metrics.events.family(),
    metrics.rejected.family(),
    metrics.clockSuspect.family(),
    metrics.commits.family(),
    metrics.httpDuration.family(),
    gauge('fieldkit_agent_journal_records', 'Records held in the journal.', info.records),
    gauge('fieldkit_agent_journal_bytes', 'Bytes the held records count against the budget.', info.bytes),
    gauge('fieldkit_agent_journal_budget_bytes', 'The journal disk budget.', info.budget_bytes),
    gauge('fieldkit_agent_journal_first_seq', 'Lowest seq still held (0 when empty).', info.first_seq),
    gauge('fieldkit_agent_journal_last_seq', 'Highest seq ever assigned.', info.last_seq),
    gauge('fieldkit_agent_journal_forwarded_seq', 'Highest seq confirmed in ClickHouse.', info.forwarded_seq),
    gauge('fieldkit_agent_journal_custody_seq', 'Highest seq each courier confirmed durable.', info.custody.map((c) => ({ labels: { courier: c.courier_id }, value: c.through_seq }))),
    { name: 'fieldkit_agent_journal_loss_records_total', help: 'Loss records written (ranges dropped by retention before anyone confirmed them).', type: 'counter', samples: [{ value: info.losses }] },
  ];
  if (metrics.mqttConnected !== null) {
    families.push(metrics.mqttMessages.family(), gauge('fieldkit_agent_mqtt_connected', 'Whether the MQTT subscription is connected (1) or not (0).', metrics.mqttConnected));
  }
  const sample = sources.health === undefined ? null : await sources.health().catch(() => null);
  if (sample !== null) families.push(...healthFamilies(sample));
  return renderExposition(families);
}
