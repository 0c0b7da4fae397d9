function twoDigits(n: number): string {
  return String(n).padStart(2, '0');
}

/** 75 → "01:15"; an hour or more → "1:02:03". */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  return hours > 0 ? `${hours}:${twoDigits(minutes)}:${twoDigits(secs)}` : `${twoDigits(minutes)}:${twoDigits(secs)}`;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dateAndClock = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });

/** A job's time: the clock for today, date and clock for earlier days. */
export function formatWhen(epochMs: number, now: number): string {
  const sameDay = new Date(epochMs).toDateString() === new Date(now).toDateString();
  return sameDay ? clock.format(epochMs) : dateAndClock.format(epochMs);
}
