import { ApiError, api } from '../api.js';
import { formatNumber, h, replaceChildren, timeEl } from '../dom.js';
import { createMeterTable, paramsFrom, searchFrom } from '../meter-table.js';
import { groupHref, meterHref, replaceParams } from '../router.js';
import { type MeterState, STATES, stateBadge } from '../states.js';
import { disposer, type ViewFactory } from '../view.js';

// PROTOCOL §7 groups: the list with members per state, and one group's members (the meter
// table, live), its commands running and past (GET /api/groups/:g/jobs, each job's failures on
// demand from GET /api/jobs/:id) and its demand-response rule and events.

interface GroupSummary {
  name: string;
  total: number;
  states: Record<MeterState, number>;
}

interface Job {
  id: number;
  command: string;
  args: Record<string, string[]>;
  requestedBy: string;
  via: string;
  members: number;
  status: 'running' | 'done' | 'interrupted';
  createdAt: string;
  finishedAt: string | null;
  summary: {
    ok: number;
    failed: number;
    timedOut: number;
    offline: number;
    durationMs: number;
    failures: Array<{ meterId: string; kind: string; detail: string }>;
  } | null;
}

interface DrRule {
  group: string;
  state: string;
  limitKw: number;
  totalKw: number | null;
  eventId: number | null;
  shed: Array<{ meterId: string }>;
}

interface DrEvent {
  id: number;
  group: string;
  startedAt: string;
  endedAt: string | null;
  peakKw: number;
  limitKw: number;
}

interface DrDecision {
  id: number;
  at: string;
  kind: string;
  meterId: string | null;
  reason: string;
  outcome: string | null;
}

const JOBS_REFRESH_MS = 5_000;

function stateCounts(states: Record<MeterState, number>): HTMLElement {
  return h(
    'ul',
    { class: 'inline-counts' },
    ...STATES.filter((s) => states[s] > 0).map((s) =>
      h('li', {}, stateBadge(s), ' ', formatNumber(states[s])),
    ),
  );
}

export const groupsView: ViewFactory = (ctx) => {
  const body = h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Loading…'));
  ctx.main.append(h('h1', { tabindex: '-1' }, 'Groups'), body);
  api<{ groups: GroupSummary[] }>('/api/groups')
    .then(({ groups }) => {
      replaceChildren(
        body,
        groups.length === 0
          ? h(
              'p',
              { class: 'muted' },
              'No group: groups exist through their members (presence-service groups add).',
            )
          : h(
              'div',
              { class: 'table-wrap' },
              h(
                'table',
                {},
                h('caption', { class: 'sr-only' }, 'Groups'),
                h(
                  'thead',
                  {},
                  h(
                    'tr',
                    {},
                    h('th', { scope: 'col' }, 'Group'),
                    h('th', { scope: 'col' }, 'Members'),
                    h('th', { scope: 'col' }, 'States'),
                  ),
                ),
                h(
                  'tbody',
                  {},
                  ...groups.map((g) =>
                    h(
                      'tr',
                      {},
                      h('th', { scope: 'row' }, h('a', { href: groupHref(g.name) }, g.name)),
                      h('td', { class: 'num' }, formatNumber(g.total)),
                      h('td', {}, stateCounts(g.states)),
                    ),
                  ),
                ),
              ),
            ),
      );
    })
    .catch((error: Error) => ctx.alert(`Could not load the groups: ${error.message}`));
  return { destroy: () => {} };
};

export const groupView: ViewFactory = (ctx, route) => {
  const name = route.id as string;
  const cleanup = disposer();
  const counts = h('div', { 'aria-live': 'polite' });
  const jobs = h('div');
  const dr = h('div');
  const table = createMeterTable({
    live: ctx.live,
    params: paramsFrom(route.params),
    fixedGroup: name,
    onParamsChange: (params) =>
      replaceParams(`/groups/${encodeURIComponent(name)}`, searchFrom(params, name)),
    alert: ctx.alert,
    idPrefix: 'group',
  });
  cleanup.add(() => table.destroy());

  ctx.main.append(
    h(
      'nav',
      { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/groups' }, 'Groups'),
      ' / ',
      name,
    ),
    h('h1', { tabindex: '-1' }, `Group ${name}`),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'group-counts' },
      h('h2', { id: 'group-counts' }, 'Members per state'),
      counts,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'group-jobs' },
      h('h2', { id: 'group-jobs' }, 'Group commands'),
      jobs,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'group-dr' },
      h('h2', { id: 'group-dr' }, 'Demand response'),
      dr,
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'group-members' },
      h('h2', { id: 'group-members' }, 'Members'),
      table.element,
    ),
  );

  async function loadCounts() {
    try {
      const group = await api<GroupSummary>(`/api/groups/${encodeURIComponent(name)}?limit=1`);
      replaceChildren(
        counts,
        h('p', {}, `${formatNumber(group.total)} members`),
        stateCounts(group.states),
      );
    } catch (error) {
      replaceChildren(
        counts,
        error instanceof ApiError && error.status === 404
          ? `No meter is in group '${name}'.`
          : (error as Error).message,
      );
    }
  }

  let anyRunning = false;
  async function loadJobs() {
    try {
      const result = await api<{ jobs: Job[] }>(
        `/api/groups/${encodeURIComponent(name)}/jobs?limit=20`,
      );
      anyRunning = result.jobs.some((j) => j.status === 'running');
      replaceChildren(
        jobs,
        result.jobs.length === 0
          ? h('p', { class: 'muted' }, 'No group command yet.')
          : jobTable(result.jobs),
      );
    } catch (error) {
      ctx.alert(`Could not load the group's commands: ${(error as Error).message}`);
    }
  }

  async function loadDemandResponse() {
    try {
      const [{ rules }, { events }] = await Promise.all([
        api<{ rules: DrRule[] }>('/api/demand-response'),
        api<{ events: DrEvent[] }>(
          `/api/demand-response/events?group=${encodeURIComponent(name)}&limit=10`,
        ),
      ]);
      const rule = rules.find((r) => r.group === name);
      replaceChildren(
        dr,
        rule
          ? h(
              'p',
              {},
              `Rule: ${rule.state}, limit ${rule.limitKw} kW, total now ${rule.totalKw === null ? '—' : `${rule.totalKw.toFixed(1)} kW`}`,
              rule.shed.length > 0 ? `; shed: ${rule.shed.map((s) => s.meterId).join(', ')}` : '',
            )
          : h('p', { class: 'muted' }, 'No demand-response rule for this group.'),
        events.length === 0
          ? h('p', { class: 'muted' }, 'No demand-response event.')
          : drTable(events),
      );
    } catch (error) {
      ctx.alert(`Could not load demand response: ${(error as Error).message}`);
    }
  }

  const timer = window.setInterval(() => {
    void loadCounts();
    if (anyRunning) void loadJobs();
  }, JOBS_REFRESH_MS);
  cleanup.add(() => window.clearInterval(timer));
  void loadCounts();
  void loadJobs();
  void loadDemandResponse();

  return {
    update(next) {
      if (next.id !== name) return false;
      table.setParams(paramsFrom(next.params));
      return true;
    },
    destroy: cleanup.run,
  };
};

function jobTable(jobs: Job[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'compact' },
      h('caption', { class: 'sr-only' }, 'Group commands, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Job', 'Command', 'Status', 'Result', 'Started', 'By'].map((l, i) =>
            h('th', { scope: 'col', class: i >= 4 ? 'optional' : null }, l),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...jobs.map((job) => {
          const s = job.summary;
          const result = s
            ? `${s.ok} of ${job.members} ok${s.failed ? `, ${s.failed} failed` : ''}${s.timedOut ? `, ${s.timedOut} timed out` : ''}${s.offline ? `, ${s.offline} offline` : ''} (${(s.durationMs / 1000).toFixed(1)} s)`
            : job.status === 'running'
              ? `running on ${job.members} meters…`
              : 'interrupted';
          const failures =
            s && s.failures.length > 0
              ? h(
                  'details',
                  {},
                  h('summary', {}, `${s.failures.length} not ok`),
                  h(
                    'ul',
                    {},
                    ...s.failures
                      .slice(0, 20)
                      .map((f) =>
                        h(
                          'li',
                          {},
                          h('a', { href: meterHref(f.meterId) }, f.meterId),
                          ` ${f.kind}: ${f.detail}`,
                        ),
                      ),
                  ),
                )
              : null;
          return h(
            'tr',
            {},
            h('td', {}, `#${job.id}`),
            h(
              'td',
              {},
              job.command,
              ' ',
              h(
                'span',
                { class: 'muted' },
                Object.entries(job.args)
                  .map(([k, v]) => `${k}=${v.join(',')}`)
                  .join(' '),
              ),
            ),
            h('td', {}, h('span', { class: `job job-${job.status}` }, job.status)),
            h('td', {}, result, failures),
            h('td', { class: 'optional' }, timeEl(job.createdAt)),
            h('td', { class: 'optional' }, `${job.requestedBy} (${job.via})`),
          );
        }),
      ),
    ),
  );
}

function drTable(events: DrEvent[]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'compact' },
      h('caption', { class: 'sr-only' }, 'Demand-response events, newest first'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...['Event', 'Started', 'Ended', 'Peak', 'Limit', 'Decisions'].map((l) =>
            h('th', { scope: 'col' }, l),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...events.map((event) => {
          const decisions = h('details', {}, h('summary', {}, 'Show'));
          decisions.addEventListener(
            'toggle',
            () => {
              api<{ decisions: DrDecision[] }>(`/api/demand-response/events/${event.id}`)
                .then(({ decisions: list }) =>
                  decisions.append(
                    h(
                      'ol',
                      {},
                      ...list.map((d) =>
                        h(
                          'li',
                          {},
                          timeEl(d.at),
                          ` ${d.kind}${d.meterId ? ` ${d.meterId}` : ''}${d.outcome ? ` → ${d.outcome}` : ''}: ${d.reason}`,
                        ),
                      ),
                    ),
                  ),
                )
                .catch((error: Error) => decisions.append(h('p', {}, error.message)));
            },
            { once: true },
          );
          return h(
            'tr',
            {},
            h('td', {}, `#${event.id}`),
            h('td', {}, timeEl(event.startedAt)),
            h('td', {}, event.endedAt ? timeEl(event.endedAt) : h('strong', {}, 'ongoing')),
            h('td', { class: 'num' }, `${event.peakKw.toFixed(1)} kW`),
            h('td', { class: 'num' }, `${event.limitKw} kW`),
            h('td', {}, decisions),
          );
        }),
      ),
    ),
  );
}
