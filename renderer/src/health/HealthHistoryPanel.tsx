import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import type { DeviceHealthHistory } from '../../../shared/fleetHealth.ts';
import type { HealthEvent } from '../../../shared/health.ts';
import { useApi } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { describeEvent, isTroubleEvent } from './healthText.ts';

const shownEvents = 40;
const exactTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/**
 * The history the courier carried home with the journal: a per-minute chart (hottest
 * second, average CPU) with the notable events marked on it, and the events in words.
 */
export function HealthHistoryPanel({ deviceId }: { deviceId: string }) {
  const history = useApi('health.history', { deviceId });
  const value = history.value;
  return (
    <section className="health-history" aria-labelledby="history-heading" data-testid="health-history">
      <header className="section-head">
        <h2 id="history-heading">History from pulls</h2>
        <p className="muted">
          {value === null
            ? history.loading
              ? 'Loading…'
              : ''
            : value.pulledAtMs === null
              ? 'Never pulled: pull this device on Courier to bring its history home.'
              : `Last pulled ${exactTime.format(value.pulledAtMs)} · ${value.minutes.length} minute${value.minutes.length === 1 ? '' : 's'} · ${value.events.length} event${value.events.length === 1 ? '' : 's'}`}
        </p>
      </header>
      {history.error !== null && <ErrorNotice error={history.error} />}
      {value !== null && value.minutes.length > 0 && <MinuteChart history={value} />}
      {value !== null && value.events.length > 0 && <EventList events={value.events} />}
    </section>
  );
}

function EventList({ events }: { events: readonly HealthEvent[] }) {
  const [now] = useState(() => Date.now());
  const newest = [...events].sort((a, b) => b.at_ms - a.at_ms).slice(0, shownEvents);
  return (
    <ol className="event-list" data-testid="health-events">
      {newest.map((event) => (
        <li key={`${event.at_ms}-${event.kind}`} className={isTroubleEvent(event.kind) ? 'event-item is-trouble' : 'event-item'}>
          <span className="event-when">{describeEvent(event, now)}</span>
          {event.detail !== '' && <span className="event-detail">{event.detail}</span>}
        </li>
      ))}
      {events.length > shownEvents && <li className="event-more muted">…and {events.length - shownEvents} earlier</li>}
    </ol>
  );
}

function MinuteChart({ history }: { history: DeviceHealthHistory }) {
  const holder = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = holder.current;
    if (node === null) return;
    const style = getComputedStyle(document.documentElement);
    const axisColor = style.getPropertyValue('--text-muted').trim() || '#4a5361';
    const gridColor = style.getPropertyValue('--border').trim() || '#c6ccd4';
    const warnColor = style.getPropertyValue('--warn-border').trim() || '#d9ad3c';
    const minutes = [...history.minutes].sort((a, b) => a.minute_ms - b.minute_ms);
    const trouble = history.events.filter((event) => isTroubleEvent(event.kind)).map((event) => event.at_ms / 1000);
    const axis = { stroke: axisColor, grid: { stroke: gridColor, width: 1 }, ticks: { stroke: gridColor, width: 1 }, font: '11px system-ui, sans-serif' };
    const plot = new uPlot(
      {
        width: Math.max(300, node.clientWidth),
        height: 170,
        scales: { x: { time: true } },
        series: [
          {},
          { label: 'hottest °C', stroke: '#d9731a', width: 1.5, points: { show: false } },
          { label: 'CPU avg %', stroke: '#1f6fd1', width: 1, points: { show: false } },
          { label: 'throttled', stroke: '#c62828', width: 0, points: { show: true, size: 6, fill: '#c62828' } },
        ],
        axes: [axis, { ...axis, size: 46 }],
        cursor: { drag: { x: false, y: false } },
        hooks: {
          // Events as vertical marks: where on the timeline under-voltage or throttling happened.
          draw: [
            (u) => {
              const ctx = u.ctx;
              ctx.save();
              ctx.strokeStyle = warnColor;
              ctx.lineWidth = 2;
              for (const at of trouble) {
                const x = Math.round(u.valToPos(at, 'x', true));
                if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
                ctx.beginPath();
                ctx.moveTo(x, u.bbox.top);
                ctx.lineTo(x, u.bbox.top + u.bbox.height);
                ctx.stroke();
              }
              ctx.restore();
            },
          ],
        },
      },
      [
        minutes.map((m) => m.minute_ms / 1000),
        minutes.map((m) => m.temp_c_max),
        minutes.map((m) => m.cpu_pct_avg),
        // A dot on the minutes in which the firmware reported any throttling bit.
        minutes.map((m) => (m.throttled_raw_or !== null && m.throttled_raw_or !== 0 ? (m.temp_c_max ?? 0) : null)),
      ],
      node,
    );
    const resize = new ResizeObserver(() => {
      if (node.clientWidth > 0 && node.clientWidth !== plot.width) plot.setSize({ width: node.clientWidth, height: 170 });
    });
    resize.observe(node);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [history]);
  return <div className="history-chart" ref={holder} data-testid="history-chart" />;
}
