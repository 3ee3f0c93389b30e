import { api } from '../api.js';
import { createStateChart, type FleetTimeline } from '../chart.js';
import { formatClock, formatNumber, h, replaceChildren, throttle } from '../dom.js';
import { meterHref } from '../router.js';
import { type MeterState, STATE_MEANINGS, STATES, stateBadge } from '../states.js';
import { disposer, type ViewFactory } from '../view.js';

// The fleet at a glance: meters per state, changing live (the feed's changes applied to the
// counts of GET /api/stats, which is read again every half minute to stay exact), the last
// 24 hours of states (GET /api/stats/timeline), and the latest changes as they come.

const TIMELINE = '/api/stats/timeline?hours=24&bucketMin=15';
const STATS_REFRESH_MS = 30_000;
const TIMELINE_REFRESH_MS = 60_000;
const RECENT_CHANGES = 12;

interface Stats {
  counts: Record<MeterState, number>;
  total: number;
}

export const overviewView: ViewFactory = (ctx) => {
  const cleanup = disposer();
  let counts: Record<MeterState, number> | null = null;
  let total = 0;

  const countList = h('ul', { class: 'state-counts' });
  const totalText = h('p', { class: 'total' });
  // Polite and atomic: a screen reader hears the counts when they settle, not every change.
  const countsRegion = h(
    'section',
    {
      class: 'card',
      'aria-labelledby': 'counts-title',
      'aria-live': 'polite',
      'aria-atomic': 'true',
    },
    h('h2', { id: 'counts-title' }, 'Meters per state'),
    countList,
    totalText,
  );
  const chartBox = h('div', { class: 'chart' });
  const chartNote = h('p', { class: 'muted small' });
  const recent = h(
    'ol',
    { class: 'recent' },
    h('li', { class: 'muted' }, 'No change since this page opened.'),
  );

  ctx.main.append(
    h('h1', { tabindex: '-1' }, 'Fleet overview'),
    h(
      'div',
      { class: 'overview-grid' },
      countsRegion,
      h(
        'section',
        { class: 'card chart-card', 'aria-labelledby': 'chart-title' },
        h('h2', { id: 'chart-title' }, 'States over the last 24 hours'),
        h(
          'figure',
          {},
          chartBox,
          h(
            'figcaption',
            { class: 'sr-only' },
            'Meters per state every 15 minutes over the last 24 hours; the counts above are the current values.',
          ),
        ),
        chartNote,
      ),
      h(
        'section',
        { class: 'card', 'aria-labelledby': 'recent-title' },
        h('h2', { id: 'recent-title' }, 'Latest changes'),
        recent,
      ),
    ),
  );

  function renderCounts() {
    if (!counts) return;
    const current = counts;
    replaceChildren(
      countList,
      ...STATES.map((state) =>
        h(
          'li',
          { class: `count count-${state}`, 'data-state': state },
          h(
            'a',
            { href: `#/meters?state=${state}`, title: STATE_MEANINGS[state] },
            h('span', { class: 'count-badge' }, stateBadge(state)),
            h('span', { class: 'count-value' }, formatNumber(current[state])),
            h(
              'span',
              { class: 'count-share muted' },
              total > 0 ? `${Math.round((current[state] / total) * 1000) / 10} %` : '',
            ),
          ),
        ),
      ),
    );
    totalText.textContent = `${formatNumber(total)} meters registered`;
  }
  const renderCountsSoon = throttle(renderCounts, 500);
  cleanup.add(renderCountsSoon.cancel);

  const chart = createStateChart(chartBox);
  cleanup.add(() => chart.destroy());
  const updateChartSoon = throttle(() => counts && chart.setNow(counts), 1000);
  cleanup.add(updateChartSoon.cancel);

  async function loadStats() {
    try {
      const stats = await api<Stats>('/api/stats');
      counts = stats.counts;
      total = stats.total;
      renderCounts();
    } catch (error) {
      ctx.alert(`Could not load the counts: ${(error as Error).message}`);
    }
  }
  async function loadTimeline() {
    try {
      const timeline = await api<FleetTimeline & { changes: number }>(TIMELINE);
      chart.set(timeline);
      chartNote.textContent = `${formatNumber(timeline.changes)} changes in 24 h; updated ${formatClock(Date.now())}.`;
    } catch (error) {
      ctx.alert(`Could not load the chart: ${(error as Error).message}`);
    }
  }

  cleanup.add(
    ctx.live.subscribe((change) => {
      if (counts) {
        // A meter never seen before was counted decoupled (PROTOCOL §1).
        counts[change.prevState ?? 'decoupled'] -= 1;
        counts[change.state] += 1;
        renderCountsSoon();
        updateChartSoon();
      }
      if (recent.firstElementChild?.classList.contains('muted')) recent.replaceChildren();
      recent.prepend(
        h(
          'li',
          {},
          h('span', { class: 'muted' }, formatClock(Date.parse(change.receivedAt))),
          ' ',
          h('a', { href: meterHref(change.meterId) }, change.meterId),
          ' ',
          stateBadge(change.state, change.reason),
        ),
      );
      while (recent.children.length > RECENT_CHANGES) recent.lastElementChild?.remove();
    }),
  );
  cleanup.add(ctx.live.onResync(() => void loadStats()));
  const statsTimer = window.setInterval(() => void loadStats(), STATS_REFRESH_MS);
  const timelineTimer = window.setInterval(() => void loadTimeline(), TIMELINE_REFRESH_MS);
  cleanup.add(() => {
    window.clearInterval(statsTimer);
    window.clearInterval(timelineTimer);
  });
  void loadStats();
  void loadTimeline();

  return { destroy: cleanup.run };
};
