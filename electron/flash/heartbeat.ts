/**
 * The heartbeat both ends of the flash helper's channel keep (helperChannel.ts): a beat every
 * second, and "gone" once the other side has said nothing for two and a half beats. Each end
 * is wired the same way by `openChannelEnd`: listeners for messages, one "lost" notice with
 * why, and a close that stops the beat.
 */
import type { Socket } from 'node:net';
import { writeMessage, type HelperToWorker, type WorkerToHelper } from './helperMessages.ts';

export const heartbeatIntervalMs = 1000;
/** Silence longer than this means the other side is gone (two and a half missed beats). */
export const heartbeatTimeoutMs = 2500;
/** How often silence is checked: finer than the beat, so "gone" is noticed within 2.75 s. */
const silenceCheckMs = 250;

/**
 * Sends a heartbeat every second and calls `onSilence` once the other side has said nothing
 * for heartbeatTimeoutMs. Returns `heard` (call on every message) and `stop`.
 */
function keepHeartbeat(beat: () => void, onSilence: () => void): { heard(): void; stop(): void } {
  let lastHeard = Date.now();
  let lastSent = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - lastHeard > heartbeatTimeoutMs) {
      clearInterval(timer);
      onSilence();
      return;
    }
    if (now - lastSent >= heartbeatIntervalMs) {
      lastSent = now;
      beat();
    }
  }, silenceCheckMs);
  lastSent = Date.now();
  beat();
  return {
    heard: () => {
      lastHeard = Date.now();
    },
    stop: () => {
      clearInterval(timer);
    },
  };
}

/** How an end names the other side going away: fell silent, sent something broken (`why`), or closed. */
export type LostWording = { silent: string; sent: (why: string) => string; away: string };

/** One end of the channel over an accepted (or connected) socket, heartbeat running. */
export type ChannelEnd<In> = {
  /** Every message read from the socket goes here (it counts as a heartbeat heard). */
  deliver: (message: In) => void;
  /** The reader found a broken or hostile message: the link is lost. */
  bad: (why: string) => void;
  send: (message: WorkerToHelper | HelperToWorker) => void;
  onMessage: (listener: (message: In) => void) => void;
  /** Called once when the other side disconnects, falls silent, or misbehaves. */
  onLost: (listener: (why: string) => void) => void;
  /** Stops the heartbeat and ends our side; no lost notice follows. */
  close: () => void;
};

/** Heartbeats and message plumbing over `socket`; heartbeats (and a repeated hello) never reach the listeners. */
export function openChannelEnd<In extends { type: string }>(socket: Socket, wording: LostWording): ChannelEnd<In> {
  const messageListeners: ((message: In) => void)[] = [];
  const lostListeners: ((why: string) => void)[] = [];
  let lost = false;
  const markLost = (why: string): void => {
    if (lost) return;
    lost = true;
    heartbeat.stop();
    socket.destroy();
    for (const listener of lostListeners) listener(why);
  };
  const heartbeat = keepHeartbeat(
    () => {
      writeMessage(socket, { type: 'heartbeat' });
    },
    () => {
      markLost(wording.silent);
    },
  );
  socket.on('close', () => {
    markLost(wording.away);
  });
  socket.on('error', () => undefined);
  return {
    deliver: (message) => {
      heartbeat.heard();
      if (message.type === 'heartbeat' || message.type === 'hello') return;
      for (const listener of messageListeners) listener(message);
    },
    bad: (why) => {
      markLost(wording.sent(why));
    },
    send: (message) => {
      writeMessage(socket, message);
    },
    onMessage: (listener) => messageListeners.push(listener),
    onLost: (listener) => lostListeners.push(listener),
    close: () => {
      lost = true;
      heartbeat.stop();
      socket.end();
    },
  };
}
