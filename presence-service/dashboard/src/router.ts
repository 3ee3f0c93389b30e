// Hash routes (`#/meters/mtr-0001`): the service serves one page at `/`, and a link or a reload
// lands on the same view. Query parameters after the path carry a view's filters.

export interface Route {
  name: 'overview' | 'meters' | 'meter' | 'groups' | 'group' | 'sign-in' | 'not-found';
  /** The path parameter (meter id or group name). */
  id?: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, '') || '/';
  const [path = '/', search = ''] = raw.split('?', 2);
  const params = new URLSearchParams(search);
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { name: 'overview', params };
  const [first, second] = parts;
  if (first === 'meters' && parts.length === 1) return { name: 'meters', params };
  if (first === 'meters' && second && parts.length === 2)
    return { name: 'meter', id: second, params };
  if (first === 'groups' && parts.length === 1) return { name: 'groups', params };
  if (first === 'groups' && second && parts.length === 2)
    return { name: 'group', id: second, params };
  if (first === 'sign-in') return { name: 'sign-in', params };
  return { name: 'not-found', params };
}

export const meterHref = (id: string) => `#/meters/${encodeURIComponent(id)}`;
export const groupHref = (name: string) => `#/groups/${encodeURIComponent(name)}`;

/** Changes the hash's query without a new history entry (typing in a filter). */
export function replaceParams(path: string, params: URLSearchParams): void {
  const search = params.toString();
  history.replaceState(null, '', `#${path}${search ? `?${search}` : ''}`);
}
