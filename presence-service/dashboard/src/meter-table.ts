import { api, query } from './api.js';
import { ago, formatNumber, h, replaceChildren, srOnly, throttle, timeEl } from './dom.js';
import type { Change, LiveFeed } from './live.js';
import { groupHref, meterHref } from './router.js';
import {
  isState,
  type MeterState,
  type Reason,
  STATE_LABELS,
  STATES,
  stateBadge,
} from './states.js';

// The meter table: filters, sort and pages are the server's (GET /api/fleet/meters), so 10,000
// meters cost the browser one page of rows. A row changes in place the moment its meter's
// change arrives on the live feed; when the change may move rows (a state filter, a sort by
// state or time) the page is asked for again, at most every few seconds.

export interface MeterRow {
  id: string;
  kind: string | null;
  groups: string[];
  state: MeterState;
  reason: Reason | null;
  since: string | null;
  receivedAt: string | null;
  lastSeenAt: string | null;
}

interface Page {
  total: number;
  meters: MeterRow[];
}

export interface TableParams {
  state?: string;
  group?: string;
  q?: string;
  sort: string;
  page: number;
}

export const PAGE_SIZE = 50;
const RELOAD_AFTER_CHANGE_MS = 2_000;
const REFRESH_MS = 30_000;

const COLUMNS: Array<{ key: string | null; label: string; className?: string }> = [
  { key: 'id', label: 'Meter' },
  { key: 'state', label: 'State' },
  { key: null, label: 'Reason', className: 'optional' },
  { key: 'since', label: 'Since' },
  { key: 'changed', label: 'Recorded', className: 'optional' },
  { key: 'seen', label: 'Last seen', className: 'optional' },
  { key: null, label: 'Groups', className: 'optional' },
  { key: 'kind', label: 'Kind', className: 'optional wide-only' },
];

export function paramsFrom(search: URLSearchParams): TableParams {
  const page = Number(search.get('page') ?? '1');
  const state = search.get('state') ?? undefined;
  return {
    ...(state && isState(state) ? { state } : {}),
    ...(search.get('group') ? { group: search.get('group') as string } : {}),
    ...(search.get('q') ? { q: search.get('q') as string } : {}),
    sort: search.get('sort') ?? 'id',
    page: Number.isInteger(page) && page > 0 ? page : 1,
  };
}

export function searchFrom(params: TableParams, fixedGroup?: string): URLSearchParams {
  const search = new URLSearchParams();
  if (params.state) search.set('state', params.state);
  if (params.group && !fixedGroup) search.set('group', params.group);
  if (params.q) search.set('q', params.q);
  if (params.sort !== 'id') search.set('sort', params.sort);
  if (params.page > 1) search.set('page', String(params.page));
  return search;
}

export interface MeterTable {
  readonly element: HTMLElement;
  setParams(params: TableParams): void;
  destroy(): void;
}

export function createMeterTable(options: {
  live: LiveFeed;
  params: TableParams;
  /** The group page's table: always this group, no group filter shown. */
  fixedGroup?: string;
  /** Told whenever the user changes filters, sort or page. */
  onParamsChange(params: TableParams): void;
  /** Shows a failed load. */
  alert(message: string): void;
  idPrefix: string;
}): MeterTable {
  let params = options.params;
  let controller: AbortController | null = null;
  let rows = new Map<string, HTMLTableRowElement>();
  let total = 0;

  const stateSelect = h(
    'select',
    { id: `${options.idPrefix}-state`, name: 'state' },
    h('option', { value: '' }, 'All states'),
    ...STATES.map((s) => h('option', { value: s }, STATE_LABELS[s])),
  );
  const groupSelect = h(
    'select',
    { id: `${options.idPrefix}-group`, name: 'group' },
    h('option', { value: '' }, 'All groups'),
  );
  const search = h('input', {
    id: `${options.idPrefix}-q`,
    name: 'q',
    type: 'search',
    placeholder: 'id, kind or e-mail',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const summary = h('p', { class: 'table-summary', 'aria-live': 'polite' });
  const tbody = h('tbody');
  const headRow = h('tr');
  const caption = h('caption', { class: 'sr-only' });
  const prev = h('button', { type: 'button' }, '← Previous');
  const next = h('button', { type: 'button' }, 'Next →');
  const pageText = h('span', { class: 'page-text' });

  const filters = h(
    'form',
    { class: 'filters', role: 'search', onsubmit: (e: Event) => e.preventDefault() },
    h('div', { class: 'field' }, h('label', { for: stateSelect.id }, 'State'), stateSelect),
    options.fixedGroup
      ? null
      : h('div', { class: 'field' }, h('label', { for: groupSelect.id }, 'Group'), groupSelect),
    h('div', { class: 'field grow' }, h('label', { for: search.id }, 'Search'), search),
  );
  const element = h(
    'section',
    { class: 'meter-table', 'aria-label': 'Meters' },
    filters,
    summary,
    h('div', { class: 'table-wrap' }, h('table', {}, caption, h('thead', {}, headRow), tbody)),
    h('nav', { class: 'pagination', 'aria-label': 'Pages' }, prev, pageText, next),
  );

  const change = (patch: Partial<TableParams>) => {
    params = { ...params, page: 1, ...patch };
    options.onParamsChange(params);
    void load();
  };
  stateSelect.addEventListener('change', () => change({ state: stateSelect.value || undefined }));
  groupSelect.addEventListener('change', () => change({ group: groupSelect.value || undefined }));
  let typing: number | undefined;
  search.addEventListener('input', () => {
    window.clearTimeout(typing);
    typing = window.setTimeout(() => change({ q: search.value.trim() || undefined }), 300);
  });
  prev.addEventListener('click', () => change({ page: Math.max(1, params.page - 1) }));
  next.addEventListener('click', () => change({ page: params.page + 1 }));

  function renderHead() {
    const [sortKey, descending] = params.sort.startsWith('-')
      ? [params.sort.slice(1), true]
      : [params.sort, false];
    replaceChildren(
      headRow,
      ...COLUMNS.map((column) => {
        if (!column.key) return h('th', { scope: 'col', class: column.className }, column.label);
        const active = column.key === sortKey;
        const key = column.key;
        return h(
          'th',
          {
            scope: 'col',
            class: column.className,
            'aria-sort': active ? (descending ? 'descending' : 'ascending') : null,
          },
          h(
            'button',
            {
              type: 'button',
              class: 'sort',
              onclick: () => change({ sort: active && !descending ? `-${key}` : key }),
            },
            column.label,
            h('span', { 'aria-hidden': 'true' }, active ? (descending ? ' ▼' : ' ▲') : ' ↕'),
            srOnly(active ? (descending ? ', sorted descending' : ', sorted ascending') : ', sort'),
          ),
        );
      }),
    );
    caption.textContent = `Meters, sorted by ${sortKey}${descending ? ' (descending)' : ''}`;
  }

  function renderRow(meter: MeterRow): HTMLTableRowElement {
    return h(
      'tr',
      { 'data-meter-id': meter.id, 'data-state': meter.state },
      h('th', { scope: 'row' }, h('a', { href: meterHref(meter.id) }, meter.id)),
      h('td', { class: 'cell-state' }, stateBadge(meter.state, meter.reason)),
      h('td', { class: 'cell-reason optional' }, meter.reason?.text ?? ''),
      h('td', { class: 'cell-since' }, timeEl(meter.since)),
      h('td', { class: 'cell-changed optional' }, timeEl(meter.receivedAt)),
      h('td', { class: 'cell-seen optional' }, ago(meter.lastSeenAt)),
      h(
        'td',
        { class: 'optional' },
        ...meter.groups.flatMap((g, i) => [i > 0 ? ', ' : null, h('a', { href: groupHref(g) }, g)]),
      ),
      h('td', { class: 'optional wide-only' }, meter.kind ?? ''),
    );
  }

  async function load() {
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    renderHead();
    stateSelect.value = params.state ?? '';
    groupSelect.value = params.group ?? '';
    if (document.activeElement !== search) search.value = params.q ?? '';
    const group = options.fixedGroup ?? params.group;
    let page: Page;
    try {
      page = await api<Page>(
        `/api/fleet/meters${query({
          state: params.state,
          group,
          q: params.q,
          sort: params.sort,
          limit: PAGE_SIZE,
          offset: (params.page - 1) * PAGE_SIZE,
        })}`,
        { signal: mine.signal },
      );
    } catch (error) {
      if ((error as Error).name === 'AbortError') return;
      options.alert(`Could not load the meters: ${(error as Error).message}`);
      return;
    }
    if (controller !== mine) return;
    // Keep the keyboard where it was across a reload: the same meter's same cell.
    const focused = document.activeElement;
    const focusRow = focused?.closest('tr')?.getAttribute('data-meter-id');
    const focusCell = focused?.closest('td,th');
    const cellIndex = focusCell
      ? Array.from(focusCell.parentElement?.children ?? []).indexOf(focusCell)
      : -1;

    total = page.total;
    rows = new Map(page.meters.map((m) => [m.id, renderRow(m)]));
    replaceChildren(tbody, ...rows.values());
    if (page.meters.length === 0) {
      tbody.append(
        h('tr', {}, h('td', { colspan: COLUMNS.length, class: 'empty' }, 'No meter matches.')),
      );
    }
    const first = total === 0 ? 0 : (params.page - 1) * PAGE_SIZE + 1;
    const last = (params.page - 1) * PAGE_SIZE + page.meters.length;
    summary.textContent = `Meters ${formatNumber(first)}–${formatNumber(last)} of ${formatNumber(total)}`;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    pageText.textContent = `Page ${formatNumber(params.page)} of ${formatNumber(pages)}`;
    prev.disabled = params.page <= 1;
    next.disabled = params.page >= pages;
    if (focusRow) {
      const cell = rows.get(focusRow)?.children[cellIndex];
      (cell?.querySelector('a,button') as HTMLElement | null)?.focus();
    }
  }

  // Moves rows or totals: the page is asked for again, throttled.
  const reload = throttle(() => void load(), RELOAD_AFTER_CHANGE_MS);
  const unsubscribe = options.live.subscribe((changed: Change) => {
    const row = rows.get(changed.meterId);
    if (row) {
      row.dataset.state = changed.state;
      replaceChildren(
        row.querySelector('.cell-state') as Element,
        stateBadge(changed.state, changed.reason),
      );
      replaceChildren(row.querySelector('.cell-reason') as Element, changed.reason?.text ?? '');
      replaceChildren(row.querySelector('.cell-since') as Element, timeEl(changed.since));
      replaceChildren(row.querySelector('.cell-changed') as Element, timeEl(changed.receivedAt));
      replaceChildren(row.querySelector('.cell-seen') as Element, ago(changed.receivedAt));
      row.classList.remove('flash');
      void row.offsetWidth; // restart the highlight
      row.classList.add('flash');
    }
    const sortKey = params.sort.replace(/^-/, '');
    if (
      params.state ||
      sortKey === 'state' ||
      sortKey === 'since' ||
      sortKey === 'changed' ||
      sortKey === 'seen'
    ) {
      reload();
    }
  });
  const unResync = options.live.onResync(() => void load());
  const refresh = window.setInterval(() => void load(), REFRESH_MS);

  if (!options.fixedGroup) {
    api<{ groups: Array<{ name: string }> }>('/api/groups')
      .then(({ groups }) => {
        groupSelect.append(...groups.map((g) => h('option', { value: g.name }, g.name)));
        groupSelect.value = params.group ?? '';
      })
      .catch((error: Error) => options.alert(`Could not load the groups: ${error.message}`));
  }
  void load();

  return {
    element,
    setParams(next) {
      params = next;
      void load();
    },
    destroy() {
      controller?.abort();
      reload.cancel();
      window.clearTimeout(typing);
      window.clearInterval(refresh);
      unsubscribe();
      unResync();
    },
  };
}
