import { ApiError, api, mayCommand, query } from '../api.js';
import { createCommandPanel } from '../commands.js';
import { ago, h, replaceChildren, throttle, timeEl } from '../dom.js';
import type { Change } from '../live.js';
import {
  type DayAvailability,
  type MeterTimeline,
  renderAvailability,
  renderSegmentTable,
  renderTimelineBand,
} from '../meter-timeline.js';
import { REGISTER_LABELS } from '../registers.js';
import { groupHref } from '../router.js';
import { type MeterState, type Reason, STATE_MEANINGS, stateBadge } from '../states.js';
import { disposer, type ViewFactory } from '../view.js';

// One meter: its state now (live), its states over a chosen window, availability per day, the
// latest reading, events and audit trail, and — for operators — its commands.

interface MeterDetail {
  id: string;
  kind: string | null;
  groups: string[];
  state: MeterState;
  reason: Reason | null;
  seq: number | null;
  since: string | null;
  receivedAt: string | null;
  lastSeenAt: string | null;
  protocolErrors: Array<{ id: number; receivedAt: string; error: string }>;
}

interface Reading {
  seq: number;
  ts: string;
  delayed: boolean;
  values: Array<{ id: string; value: string; unit: string }>;
}

interface MeterEvent {
  seq: number;
  ts: string;
  type: string;
  phase: string | null;
  magnitude: number | null;
  durationMs: number | null;
  detail: string | null;
}

interface AuditEntry {
  seq: number;
  ts: string;
  from: string;
  via: string;
  command: string;
  args: Record<string, string[]>;
  outcome: string;
  condition: string | null;
  detail: string;
}

const WINDOWS = [
  { hours: 1, label: '1 h' },
  { hours: 6, label: '6 h' },
  { hours: 24, label: '24 h' },
  { hours: 168, label: '7 days' },
];
const LIST_LIMIT = 20;

export const meterView: ViewFactory = (ctx, route) => {
  const id = route.id as string;
  const base = `/api/meters/${encodeURIComponent(id)}`;
  const cleanup = disposer();
  let hours = Number(route.params.get('hours')) || 24;
  if (!WINDOWS.some((w) => w.hours === hours)) hours = 24;
  let meter: MeterDetail | null = null;

  const current = h('div', { class: 'current', 'aria-live': 'polite', 'aria-atomic': 'true' });
  const facts = h('dl', { class: 'facts' });
  const band = h('div', { class: 'band-box' });
  const segments = h('div');
  const availability = h('div');
  const reading = h('div');
  const events = h('div');
  const audit = h('div');
  const errors = h('div');
  const windowButtons = WINDOWS.map((w) =>
    h(
      'button',
      {
        type: 'button',
        'aria-pressed': String(w.hours === hours),
        onclick: () => {
          hours = w.hours;
          for (const [i, b] of windowButtons.entries()) {
            b.setAttribute('aria-pressed', String(WINDOWS[i]?.hours === hours));
          }
          void loadTimeline();
        },
      },
      w.label,
    ),
  );

  const title = h('h1', { tabindex: '-1' }, `Meter ${id}`);
  ctx.main.append(
    h(
      'nav',
      { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/meters' }, 'Meters'),
      ' / ',
      id,
    ),
    title,
    h(
      'div',
      { class: 'meter-grid' },
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'now-title' },
        h('h2', { id: 'now-title' }, 'Now'),
        current,
        facts,
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'avail-title' },
        h('h2', { id: 'avail-title' }, 'Availability, last 7 days'),
        availability,
      ),
      h(
        'section',
        { class: 'card wide', 'aria-labelledby': 'timeline-title' },
        h('h2', { id: 'timeline-title' }, 'States over time'),
        h('div', { class: 'segmented', role: 'group', 'aria-label': 'Window' }, ...windowButtons),
        band,
        h('details', {}, h('summary', {}, 'Changes in this window'), segments),
      ),
      mayCommand(ctx.session.user)
        ? h(
            'section',
            { class: 'card', 'aria-labelledby': 'commands-title' },
            h('h2', { id: 'commands-title' }, 'Commands'),
            createCommandPanel(id, afterCommand),
          )
        : null,
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'reading-title' },
        h('h2', { id: 'reading-title' }, 'Latest reading'),
        reading,
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'events-title' },
        h('h2', { id: 'events-title' }, 'Power-quality and other events'),
        events,
      ),
      h(
        'section',
        { class: 'card wide', 'aria-labelledby': 'audit-title' },
        h('h2', { id: 'audit-title' }, 'Command audit trail'),
        audit,
      ),
      errors,
    ),
  );

  function renderCurrent() {
    if (!meter) return;
    replaceChildren(
      current,
      h('p', { class: 'big-state' }, stateBadge(meter.state, meter.reason)),
      h('p', {}, meter.reason?.text ?? STATE_MEANINGS[meter.state]),
    );
    const fact = (term: string, ...value: Array<Node | string>) => [
      h('dt', {}, term),
      h('dd', {}, ...value),
    ];
    replaceChildren(
      facts,
      ...fact('Since (meter clock)', timeEl(meter.since)),
      ...fact('Recorded', timeEl(meter.receivedAt)),
      ...fact('Last seen', meter.lastSeenAt ? ago(meter.lastSeenAt) : 'never'),
      ...fact('Kind', meter.kind ?? '—'),
      ...fact(
        'Groups',
        ...(meter.groups.length === 0
          ? ['—']
          : meter.groups.flatMap((g, i) => [i > 0 ? ', ' : '', h('a', { href: groupHref(g) }, g)])),
      ),
      ...fact('Presence seq', meter.seq === null ? '—' : String(meter.seq)),
    );
  }

  async function loadMeter() {
    try {
      meter = await api<MeterDetail>(base);
      renderCurrent();
      replaceChildren(
        errors,
        meter.protocolErrors.length === 0
          ? null
          : h(
              'section',
              { class: 'card wide', 'aria-labelledby': 'errors-title' },
              h('h2', { id: 'errors-title' }, 'Latest protocol errors'),
              h(
                'ul',
                {},
                ...meter.protocolErrors
                  .slice(0, 5)
                  .map((e) => h('li', {}, timeEl(e.receivedAt), ' ', e.error)),
              ),
            ),
      );
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        replaceChildren(current, h('p', {}, `No meter '${id}' is registered.`));
      } else {
        ctx.alert(`Could not load ${id}: ${(error as Error).message}`);
      }
    }
  }

  async function loadTimeline() {
    try {
      const timeline = await api<MeterTimeline>(`${base}/timeline${query({ hours })}`);
      replaceChildren(band, renderTimelineBand(timeline));
      replaceChildren(segments, renderSegmentTable(timeline));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404))
        ctx.alert(`Could not load the timeline: ${(error as Error).message}`);
    }
  }

  async function loadAvailability() {
    try {
      const result = await api<{ days: DayAvailability[] }>(`${base}/availability?days=7`);
      replaceChildren(availability, renderAvailability(result.days));
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404))
        ctx.alert(`Could not load availability: ${(error as Error).message}`);
    }
  }

  async function loadData() {
    const [readings, eventList, auditList] = await Promise.all([
      api<{ readings: Reading[] }>(`${base}/readings?limit=1`).catch(() => ({ readings: [] })),
      api<{ events: MeterEvent[] }>(`${base}/events?limit=${LIST_LIMIT}`).catch(() => ({
        events: [],
      })),
      api<{ audit: AuditEntry[] }>(`${base}/audit?limit=${LIST_LIMIT}`).catch(() => ({
        audit: [],
      })),
    ]);
    const latest = readings.readings.at(-1);
    replaceChildren(
      reading,
      latest
        ? h(
            'div',
            {},
            h(
              'p',
              { class: 'muted' },
              'Taken ',
              timeEl(latest.ts),
              latest.delayed ? ' (sent late)' : '',
            ),
            h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                { class: 'compact' },
                h('caption', { class: 'sr-only' }, 'Register values'),
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    h('th', { scope: 'col' }, 'Register'),
                    h('th', { scope: 'col' }, 'Value'),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  ...latest.values.map((v) =>
                    h(
                      'tr',
                      {},
                      h('th', { scope: 'row', title: v.id }, REGISTER_LABELS[v.id] ?? v.id),
                      h('td', { class: 'num' }, `${v.value}${v.unit ? ` ${v.unit}` : ''}`),
                    ),
                  ),
                ),
              ),
            ),
          )
        : h('p', { class: 'muted' }, 'No reading yet.'),
    );
    replaceChildren(
      events,
      eventList.events.length === 0
        ? h('p', { class: 'muted' }, 'No event.')
        : h(
            'ul',
            { class: 'event-list' },
            ...[...eventList.events].reverse().map((e) =>
              h(
                'li',
                {},
                timeEl(e.ts),
                ' ',
                h('strong', {}, e.type),
                [
                  e.phase,
                  e.detail,
                  e.magnitude !== null ? `${e.magnitude}` : null,
                  e.durationMs !== null ? `${e.durationMs} ms` : null,
                ]
                  .filter(Boolean)
                  .map((part) => ` ${part}`)
                  .join(''),
              ),
            ),
          ),
    );
    replaceChildren(
      audit,
      auditList.audit.length === 0
        ? h('p', { class: 'muted' }, 'No command yet.')
        : h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'compact' },
              h('caption', { class: 'sr-only' }, 'Commands carried out or refused, newest first'),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  ...['When', 'Command', 'Outcome', 'From', 'Detail'].map((label, i) =>
                    h('th', { scope: 'col', class: i >= 3 ? 'optional' : null }, label),
                  ),
                ),
              ),
              h(
                'tbody',
                {},
                ...[...auditList.audit]
                  .reverse()
                  .map((a) =>
                    h(
                      'tr',
                      {},
                      h('td', {}, timeEl(a.ts)),
                      h(
                        'td',
                        {},
                        a.command,
                        ' ',
                        h('span', { class: 'muted' }, formatArgs(a.args)),
                      ),
                      h(
                        'td',
                        {},
                        h('span', { class: `outcome outcome-${a.outcome}` }, a.outcome),
                        a.condition ? ` (${a.condition})` : '',
                      ),
                      h('td', { class: 'optional' }, `${a.from} via ${a.via}`),
                      h('td', { class: 'optional' }, a.detail),
                    ),
                  ),
              ),
            ),
          ),
    );
  }

  const scheduleTimeline = throttle(() => void loadTimeline(), 500);
  // The meter reports its audit entry (and any event) as data a moment after it answers, so
  // the lists are read again a few times after a command.
  const followUps: number[] = [];
  function afterCommand() {
    for (const delay of [1_000, 3_000, 6_000]) {
      followUps.push(window.setTimeout(() => void loadData(), delay));
    }
  }
  cleanup.add(() => {
    for (const timer of followUps) window.clearTimeout(timer);
  });
  cleanup.add(scheduleTimeline.cancel);

  cleanup.add(
    ctx.live.subscribe((change: Change) => {
      if (change.meterId !== id || !meter) return;
      meter = {
        ...meter,
        state: change.state,
        reason: change.reason,
        since: change.since,
        receivedAt: change.receivedAt,
        lastSeenAt: change.receivedAt,
        seq: change.seq ?? meter.seq,
      };
      renderCurrent();
      scheduleTimeline();
    }),
  );
  cleanup.add(ctx.live.onResync(() => void loadMeter()));
  const refresh = window.setInterval(() => {
    void loadMeter();
    void loadData();
  }, 30_000);
  cleanup.add(() => window.clearInterval(refresh));

  void loadMeter();
  void loadTimeline();
  void loadAvailability();
  void loadData();
  return { destroy: cleanup.run };
};

function formatArgs(args: Record<string, string[]>): string {
  return Object.entries(args)
    .map(([name, values]) => `${name}=${values.join(',')}`)
    .join(' ');
}
