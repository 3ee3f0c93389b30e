import xml, { type Element } from '@xmpp/xml';
import { NS_STANZAS } from '../protocol/namespaces.js';

// RFC 6120 §8.3: stanza errors, built in one place (STYLE §5).

export type StanzaErrorType = 'auth' | 'cancel' | 'continue' | 'modify' | 'wait';
export type StanzaErrorCondition =
  | 'bad-request'
  | 'feature-not-implemented'
  | 'forbidden'
  | 'internal-server-error'
  | 'item-not-found'
  | 'not-acceptable'
  | 'not-allowed'
  | 'not-authorized'
  | 'recipient-unavailable'
  | 'resource-constraint'
  | 'service-unavailable'
  | 'unexpected-request';

/** The <error/> child; returned from an iqCallee handler it becomes an `type='error'` reply. */
export function stanzaError(
  type: StanzaErrorType,
  condition: StanzaErrorCondition,
  text?: string,
): Element {
  const children = [xml(condition, { xmlns: NS_STANZAS })];
  if (text) children.push(xml('text', { xmlns: NS_STANZAS, 'xml:lang': 'en' }, text));
  return xml('error', { type }, ...children);
}

export const forbidden = (text?: string) => stanzaError('auth', 'forbidden', text);
export const badRequest = (text: string) => stanzaError('modify', 'bad-request', text);
