import { formatClock, formatDuration, h, srOnly, timeEl } from './dom.js';
import { type MeterState, type Reason, STATE_LABELS, stateBadge } from './states.js';

// A meter's states in a window as colour bands (GET /api/meters/:id/timeline), each band named
// in text when it is wide enough and always for screen readers (the bands are a list), and its
// availability per UTC day (GET /api/meters/:id/availability) as a table with bars.

export interface Segment {
  state: MeterState;
  reasonCode: string | null;
  reasonText: string | null;
  start: string;
  end: string;
}

export interface MeterTimeline {
  from: string;
  to: string;
  coveredFrom: string;
  segments: Segment[];
  truncated: boolean;
}

export interface DayAvailability {
  day: string;
  observedS: number;
  upS: number;
  share: number | null;
}

/** Bands narrower than this share of the window get no visible label (the title has it). */
const LABEL_MIN_SHARE = 0.08;

export function renderTimelineBand(timeline: MeterTimeline): HTMLElement {
  // A meter registered inside the window: the band starts at its registration, so its short
  // record is not squeezed into a corner (the caller says so in words).
  const from = Math.max(Date.parse(timeline.from), Date.parse(timeline.coveredFrom));
  const to = Date.parse(timeline.to);
  const span = Math.max(1, to - from);
  const share = (a: number, b: number) => (b - a) / span;
  const band = h('ol', {
    class: 'timeline-band',
    'aria-label': `States from ${new Date(from).toLocaleString()} to ${new Date(to).toLocaleString()}`,
  });
  for (const segment of timeline.segments) {
    const start = Date.parse(segment.start);
    const end = Date.parse(segment.end);
    const part = share(start, end);
    const reason = segment.reasonCode ? ` (${segment.reasonCode})` : '';
    const description = `${STATE_LABELS[segment.state]}${reason} from ${new Date(start).toLocaleString()} for ${formatDuration(end - start)}`;
    const li = h(
      'li',
      {
        class: `segment state-bg-${segment.state}`,
        'data-state': segment.state,
        title: description,
      },
      part >= LABEL_MIN_SHARE
        ? h('span', { class: 'segment-label', 'aria-hidden': 'true' }, STATE_LABELS[segment.state])
        : null,
      srOnly(description),
    );
    li.style.width = `${part * 100}%`;
    band.append(li);
  }
  const ticks = h('div', { class: 'timeline-axis', 'aria-hidden': 'true' });
  const long = span > 2 * 86_400_000;
  for (let i = 0; i <= 4; i++) {
    const at = from + (span * i) / 4;
    const tick = h(
      'span',
      { class: 'tick' },
      long
        ? new Date(at).toLocaleDateString()
        : span < 15 * 60_000
          ? new Date(at).toLocaleTimeString()
          : formatClock(at),
    );
    tick.style.left = `${i * 25}%`;
    ticks.append(tick);
  }
  const note =
    Date.parse(timeline.coveredFrom) > Date.parse(timeline.from)
      ? h(
          'p',
          { class: 'muted small' },
          'Registered ',
          timeEl(timeline.coveredFrom),
          ': the band starts there.',
        )
      : null;
  return h('div', { class: 'timeline' }, band, ticks, note);
}

/** The window's changes, newest first, as a table. */
export function renderSegmentTable(timeline: MeterTimeline, max = 50): HTMLElement {
  const segments = timeline.segments.slice(-max).reverse();
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'segments' },
      h('caption', { class: 'sr-only' }, 'States in this window, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'State'),
          h('th', { scope: 'col' }, 'Reason'),
          h('th', { scope: 'col' }, 'From'),
          h('th', { scope: 'col' }, 'For'),
        ),
      ),
      h(
        'tbody',
        {},
        ...segments.map((s) => {
          const reason: Reason | null = s.reasonCode
            ? { code: s.reasonCode, text: s.reasonText }
            : null;
          return h(
            'tr',
            {},
            h('td', {}, stateBadge(s.state, reason)),
            h('td', {}, s.reasonText ?? ''),
            h('td', {}, timeEl(s.start)),
            h('td', {}, formatDuration(Date.parse(s.end) - Date.parse(s.start))),
          );
        }),
      ),
    ),
  );
}

export function renderAvailability(days: DayAvailability[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'availability' },
      h('caption', { class: 'sr-only' }, 'Availability per UTC day'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Day (UTC)'),
          h('th', { scope: 'col' }, 'Available'),
          h('th', { scope: 'col', class: 'optional' }, 'Observed'),
        ),
      ),
      h(
        'tbody',
        {},
        ...[...days].reverse().map((day) => {
          const percent = day.share === null ? null : Math.round(day.share * 1000) / 10;
          const bar = h('span', { class: 'bar-fill' });
          bar.style.width = `${percent ?? 0}%`;
          return h(
            'tr',
            {},
            h('th', { scope: 'row' }, day.day),
            h(
              'td',
              {},
              h('span', { class: 'bar', 'aria-hidden': 'true' }, bar),
              percent === null ? h('span', { class: 'muted' }, 'no data') : `${percent} %`,
            ),
            h('td', { class: 'optional' }, formatDuration(day.observedS * 1000)),
          );
        }),
      ),
    ),
  );
}
