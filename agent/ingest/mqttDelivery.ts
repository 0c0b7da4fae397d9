/**
 * One MQTT message into the journal, and whether it may be acked:
 * - committed → ack;
 * - can never be an event (no matching subscription, bad JSON or envelope, too large) →
 *   ack and count it, so a poison message does not block the queue behind it;
 * - the journal cannot take it now (disk full, budget full of unconfirmed safety data) →
 *   retry with backoff (1 s → 30 s), holding the broker's in-flight window, and never ack
 *   it if the agent stops first: the broker delivers it again.
 */
import type { IPublishPacket } from 'mqtt';
import type { AgentConfig } from '../../shared/agentConfig.ts';
import { JournalCorruptError, JournalFullError, JournalStorageError } from '../journal/journalErrors.ts';
import type { Logger } from '../jsonLog.ts';
import type { GroupCommitter } from './groupCommit.ts';
import type { IngestMetrics } from './ingestMetrics.ts';
import { messageToEvent, subscriptionFor } from './mqttMessage.ts';

export type DeliveryDeps = {
  mqtt: NonNullable<AgentConfig['mqtt']>;
  committer: GroupCommitter;
  metrics: IngestMetrics;
  maxEventBytes: number;
  log: Logger;
  /** Aborted when the ingest closes: a message still waiting for the journal stays unacked. */
  closing: AbortSignal;
};

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** Returns `deliver(packet)`: resolves true when the message may be acked. */
export function createMqttDelivery(deps: DeliveryDeps): (packet: IPublishPacket) => Promise<boolean> {
  const { mqtt, committer, metrics, log, closing } = deps;
  const stopping = () => closing.aborted;

  /** Journals one message; resolves true once committed, false if closing stopped it first. */
  async function commit(events: Parameters<GroupCommitter['submit']>[0]): Promise<boolean> {
    let delay = 1000;
    let counted = false;
    for (;;) {
      try {
        await committer.submit(events);
        return true;
      } catch (error) {
        const full = error instanceof JournalFullError;
        if (!full && !(error instanceof JournalStorageError) && !(error instanceof JournalCorruptError)) throw error;
        if (!counted) {
          metrics.rejected.inc({ reason: full ? 'journal_full' : 'storage_error' });
          counted = true;
        }
        log('warn', 'mqtt message waits: the journal cannot take it now', { error: error.message, retry_ms: delay });
        if (stopping()) return false;
        await sleep(delay, closing);
        if (stopping()) return false;
        delay = Math.min(delay * 2, 30_000);
      }
    }
  }

  return async function deliver(packet: IPublishPacket): Promise<boolean> {
    const topic = packet.topic;
    const subscription = subscriptionFor(mqtt.subscriptions, topic);
    const body = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const outcome = subscription === undefined
      ? { ok: false as const, reason: 'invalid_event' as const, message: 'no subscription in the config matches this topic' }
      : messageToEvent(body, subscription, deps.maxEventBytes);
    if (!outcome.ok) {
      metrics.mqttMessages.inc({ outcome: 'invalid' });
      metrics.rejected.inc({ reason: outcome.reason });
      log('warn', 'mqtt message refused (acked so it does not block the queue)', { topic, reason: outcome.reason, error: outcome.message });
      return true;
    }
    const committed = await commit([outcome.event]);
    if (committed) {
      metrics.mqttMessages.inc({ outcome: 'accepted' });
      metrics.events.inc({ source: 'mqtt' });
    }
    return committed;
  };
}
