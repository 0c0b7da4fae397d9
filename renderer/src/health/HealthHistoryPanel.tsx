import { useEffect, useRef, useState } from 'react';
import uPlot from 'uplot';
import type { DeviceHealthHistory } from '../../../shared/fleetHealth.ts';
import type { HealthEvent } from '../../../shared/health.ts';
import { useApi } from '../api/hooks.ts';
import { ErrorNotice } from '../ui/ErrorNotice.tsx';
import { lonePoints } from './chartGeometry.ts';
import { chartColours, hoverReadout, timeAxis, timeRange, valueAxis } from './chartParts.ts';
import { historyData } from './healthCharts.ts';
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

/** The narrowest window the history chart shows, so one pulled minute is a dot in a readable window. */
const historyMinSpanSeconds = 15 * 60;
const historyHeight = 170;

function MinuteChart({ history }: { history: DeviceHealthHistory }) {
  const holder = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const node = holder.current;
    if (node === null) return;
    const colours = chartColours();
    const warnColor = getComputedStyle(document.documentElement).getPropertyValue('--warn-border').trim() || '#d9ad3c';
    const trouble = history.events.filter((event) => isTroubleEvent(event.kind)).map((event) => event.at_ms / 1000);
    const dots = { show: false, size: 5, filter: (u: uPlot, seriesIdx: number) => lonePoints(u.data[seriesIdx] ?? []) };
    const plot = new uPlot(
      {
        width: Math.max(300, node.clientWidth),
        height: historyHeight,
        scales: {
          x: { time: true, range: timeRange(historyMinSpanSeconds, 'centre') },
          // A Pi's working range at least, so one minute at 86 °C sits among readable ticks rather than alone on 0-170.
          temp: { range: (_u, min, max) => [Math.min(20, Math.floor(min / 10) * 10), Math.max(90, Math.ceil(max / 10) * 10)] },
          pct: { range: [0, 100] },
        },
        series: [
          {},
          { label: 'hottest', scale: 'temp', stroke: '#d9731a', width: 1.5, points: dots },
          { label: 'CPU avg', scale: 'pct', stroke: '#1f6fd1', width: 1, points: dots },
          { label: 'throttled', scale: 'temp', stroke: '#c62828', width: 0, points: { show: true, size: 6, fill: '#c62828' } },
        ],
        axes: [timeAxis(colours), valueAxis(colours, '°C', { scale: 'temp' }), valueAxis(colours, '%', { scale: 'pct', right: true, grid: false })],
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        plugins: [
          hoverReadout([
            { label: 'hottest', unit: '°C' },
            { label: 'CPU avg', unit: '%' },
            { label: 'throttled', unit: '°C', onlyWhenPresent: true },
          ]),
        ],
        hooks: {
          draw: [
            (u) => {
              drawEventMarks(u, trouble, warnColor);
            },
          ],
        },
      },
      historyData(history),
      node,
    );
    const resize = new ResizeObserver(() => {
      if (node.clientWidth > 0 && node.clientWidth !== plot.width) plot.setSize({ width: node.clientWidth, height: historyHeight });
    });
    resize.observe(node);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [history]);
  return (
    <figure className="history-figure">
      <figcaption className="chart-key">
        <span className="chart-key-item">
          <span className="chart-swatch" style={{ borderTopColor: '#d9731a' }} />
          hottest second (°C, left)
        </span>
        <span className="chart-key-item">
          <span className="chart-swatch" style={{ borderTopColor: '#1f6fd1' }} />
          CPU average (%, right)
        </span>
        <span className="chart-key-item">
          <span className="chart-swatch" style={{ borderTopColor: '#c62828' }} />
          throttled
        </span>
      </figcaption>
      <div className="history-chart" ref={holder} data-testid="history-chart" data-minutes={history.minutes.length} />
    </figure>
  );
}

/** Events as vertical marks: where on the timeline under-voltage or throttling happened. */
function drawEventMarks(u: uPlot, atSeconds: readonly number[], colour: string): void {
  const ctx = u.ctx;
  ctx.save();
  ctx.strokeStyle = colour;
  ctx.lineWidth = 2;
  for (const at of atSeconds) {
    const x = Math.round(u.valToPos(at, 'x', true));
    if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
  }
  ctx.restore();
}
