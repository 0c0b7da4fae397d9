/**
 * MQTT ingest: subscribes (QoS 1) to the topics in config.mqtt.subscriptions and journals
 * each message, sending PUBACK only after the commit that holds it. The client's
 * `handleMessage` hook runs before the PUBACK; until its callback is called the ack is not
 * sent, so a crash before commit means the broker delivers the message again.
 *
 * - QoS 1 is at-least-once: a crash between commit and PUBACK journals a message twice.
 * - A message that can never be an event (bad JSON, bad envelope, too large) is acked and
 *   counted: a poison message must not block the queue behind it.
 * - A message the journal cannot take now (disk full, budget full of unconfirmed safety
 *   data) is not acked: it is retried with backoff, which holds the broker's in-flight
 *   window and so slows the producer instead of dropping anything.
 * - A persistent session (clean=false, fixed client id) keeps the subscription and the
 *   queued messages at the broker while the agent is away; reconnects back off 1 s → 30 s.
 */
import { connect, type MqttClient } from 'mqtt';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import type { Logger } from '../jsonLog.ts';
import type { GroupCommitter } from './groupCommit.ts';
import type { IngestMetrics } from './ingestMetrics.ts';
import { createMqttDelivery } from './mqttDelivery.ts';

export type MqttIngestOptions = {
  mqtt: NonNullable<AgentConfig['mqtt']>;
  deviceId: string;
  committer: GroupCommitter;
  metrics: IngestMetrics;
  maxEventBytes: number;
  log: Logger;
  /** Reconnect backoff bounds (ms); tests shorten them. */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
};

export type MqttIngest = {
  readonly connected: boolean;
  /** True once the broker granted the subscriptions on the current connection. */
  readonly subscribed: boolean;
  /** Stops taking messages, lets the one being committed finish and be acked, disconnects. */
  close(): Promise<void>;
};

export function startMqttIngest(options: MqttIngestOptions): MqttIngest {
  const { mqtt, committer, metrics, log } = options;
  const minDelay = options.reconnectMinMs ?? 1000;
  const maxDelay = options.reconnectMaxMs ?? 30_000;
  const closing = new AbortController();
  let current: Promise<void> | null = null;
  let subscribed = false;
  metrics.mqttConnected = 0;

  const client: MqttClient = connect(mqtt.url, {
    clientId: mqtt.client_id ?? `fieldkit-agent-${options.deviceId}`,
    clean: false,
    protocolVersion: 4,
    reconnectPeriod: minDelay,
    connectTimeout: 10_000,
    keepalive: 30,
    // We subscribe on every connect ourselves (the config may have changed since the
    // broker stored the session), so the client need not.
    resubscribe: false,
  });

  const deliver = createMqttDelivery({ mqtt, committer, metrics, maxEventBytes: options.maxEventBytes, log, closing: closing.signal });

  // Called by the client before it sends PUBACK; the ack goes out only when `done` is called.
  client.handleMessage = (packet, done) => {
    const work = deliver(packet).then(
      (ack) => {
        // Not acked: the broker delivers it again after we reconnect.
        if (ack) done();
      },
      (error: unknown) => {
        log('error', 'mqtt message failed', { error: error instanceof Error ? error.message : String(error) });
      },
    );
    current = work.finally(() => {
      current = null;
    });
  };

  let delay = minDelay;
  client.on('connect', (connack) => {
    delay = minDelay;
    client.options.reconnectPeriod = minDelay;
    metrics.mqttConnected = 1;
    log('info', 'mqtt connected', { url: mqtt.url, session_present: connack.sessionPresent });
    client.subscribe(
      mqtt.subscriptions.map((s) => s.topic),
      { qos: 1 },
      (error, granted) => {
        if (error) {
          log('error', 'mqtt subscribe failed', { error: error.message });
          return;
        }
        subscribed = client.connected;
        log('info', 'mqtt subscribed', { topics: (granted ?? []).map((g) => `${g.topic} (qos ${g.qos})`) });
      },
    );
  });
  client.on('close', () => {
    if (metrics.mqttConnected === 1) log('warn', 'mqtt connection lost', { url: mqtt.url });
    metrics.mqttConnected = 0;
    subscribed = false;
    delay = Math.min(delay * 2, maxDelay);
    client.options.reconnectPeriod = delay;
  });
  client.on('error', (error) => {
    log('warn', 'mqtt error', { url: mqtt.url, error: error.message });
  });

  return {
    get connected() {
      return client.connected;
    },
    get subscribed() {
      return subscribed;
    },
    async close() {
      closing.abort();
      if (current !== null) await current;
      await client.endAsync(!client.connected);
      metrics.mqttConnected = 0;
    },
  };
}
