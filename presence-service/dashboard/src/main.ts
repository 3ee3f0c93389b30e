import { currentSession, onSessionEnded, type Session, setCsrfToken, signOut } from './api.js';
import { h, replaceChildren } from './dom.js';
import { createLiveFeed, type LiveStatus } from './live.js';
import { parseHash, type Route } from './router.js';
import type { View, ViewContext, ViewFactory } from './view.js';
import { groupsView, groupView } from './views/groups.js';
import { meterView } from './views/meter.js';
import { metersView } from './views/meters.js';
import { overviewView } from './views/overview.js';
import { renderSignIn } from './views/sign-in.js';

// The dashboard's entry point (docs/dashboard.md): asks who is signed in, shows the sign-in form
// or the view of the address's hash, and keeps one live feed open for every view.

const VIEWS: Partial<Record<Route['name'], ViewFactory>> = {
  overview: overviewView,
  meters: metersView,
  meter: meterView,
  groups: groupsView,
  group: groupView,
};

const NAV_FOR: Partial<Record<Route['name'], string>> = {
  overview: '#/',
  meters: '#/meters',
  meter: '#/meters',
  groups: '#/groups',
  group: '#/groups',
};

const main = document.getElementById('main') as HTMLElement;
const alerts = document.getElementById('alerts') as HTMLElement;
const userBox = document.getElementById('user') as HTMLElement;
const signOutButton = document.getElementById('sign-out') as HTMLButtonElement;
const liveStatus = document.getElementById('live-status') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;

let session: Session | null = null;
let view: { name: Route['name']; instance: View } | null = null;

const live = createLiveFeed({
  stillSignedIn: async () => {
    const still = await currentSession();
    if (!still) signedOut('Your session has ended. Sign in again.');
    return still !== null;
  },
});

const STATUS_TEXT: Record<LiveStatus, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
};
live.onStatus((status) => {
  liveStatus.dataset.status = status;
  liveStatus.textContent = STATUS_TEXT[status];
});

function showAlert(message: string): void {
  const item = h(
    'p',
    { class: 'alert' },
    message,
    ' ',
    h('button', { type: 'button', class: 'link', onclick: () => item.remove() }, 'Dismiss'),
  );
  alerts.append(item);
  while (alerts.children.length > 3) alerts.firstElementChild?.remove();
  window.setTimeout(() => item.remove(), 15_000);
}

function render(): void {
  if (!session) return;
  const route = parseHash(location.hash);
  for (const link of nav.querySelectorAll('a')) {
    if (link.getAttribute('href') === NAV_FOR[route.name])
      link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (view && view.name === route.name && view.instance.update?.(route)) return;
  view?.instance.destroy();
  view = null;
  main.replaceChildren();
  const factory = VIEWS[route.name];
  if (!factory) {
    main.append(
      h('h1', { tabindex: '-1' }, 'Not found'),
      h('p', {}, 'No such page. ', h('a', { href: '#/' }, 'Go to the overview.')),
    );
  } else {
    const ctx: ViewContext = { session, live, main, alert: showAlert };
    view = { name: route.name, instance: factory(ctx, route) };
  }
  document.title = `${main.querySelector('h1')?.textContent ?? 'Dashboard'} · Gridpresence`;
  // A new page: the keyboard and the screen reader start at its heading.
  (main.querySelector('h1') as HTMLElement | null)?.focus();
}

function signedIn(next: Session): void {
  session = next;
  setCsrfToken(next.csrfToken);
  replaceChildren(userBox, `${next.user.username} (${next.user.role})`);
  signOutButton.hidden = false;
  nav.hidden = false;
  live.start();
  render();
}

function signedOut(notice?: string): void {
  session = null;
  setCsrfToken(null);
  live.stop();
  view?.instance.destroy();
  view = null;
  replaceChildren(userBox);
  signOutButton.hidden = true;
  nav.hidden = true;
  liveStatus.textContent = '';
  renderSignIn(main, signedIn, notice);
}

onSessionEnded(() => {
  if (session) signedOut('Your session has ended. Sign in again.');
});

signOutButton.addEventListener('click', async () => {
  try {
    await signOut();
  } catch {
    // Signed out already, or the service is away: the page forgets the session either way.
  }
  signedOut('You have signed out.');
});

// The skip link would change the hash (our routes); move the focus instead.
document.getElementById('skip')?.addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

window.addEventListener('hashchange', render);

async function boot(): Promise<void> {
  try {
    const found = await currentSession();
    if (found) signedIn(found);
    else signedOut();
  } catch (error) {
    // No /api/session at all: this service was built without access control, which the
    // dashboard never works without.
    main.replaceChildren(
      h('h1', { tabindex: '-1' }, 'Sign-in unavailable'),
      h(
        'p',
        { role: 'alert' },
        `The service did not answer the sign-in check (${(error as Error).message}). The dashboard needs the service's HTTP access control; see docs/dashboard.md.`,
      ),
    );
  }
}

void boot();
