import type { Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';

// WORKAROUND (XMPP-NOTES "xmpp.js / Stream management"): @xmpp/client emits `online` right after
// resource binding, *before* it sends <enable/> (XEP-0198 §3). A presence sent on `online`
// makes the server deliver stanzas (e.g. a pending subscription) in the same packet as
// <enabled/>; xmpp.js then resets its inbound counter after counting them, acknowledges too few,
// and Prosody kills the stream (13–22 % of logins under load). Sending the first presence only
// once <enabled/> (or <failed/>) has been processed gave 0 failures in 5,000 logins.

const NS_SM = 'urn:xmpp:sm:3';

/** Resolves once stream management is enabled, has failed, or `timeoutMs` passed. */
export function awaitStreamManagement(xmpp: Client, timeoutMs = 10_000): Promise<void> {
  if (xmpp.streamManagement.enabled) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      xmpp.removeListener('element', onElement);
      xmpp.removeListener('offline', done);
      xmpp.removeListener('disconnect', done);
      resolve();
    };
    const onElement = (element: Element) => {
      // xmpp.js marks SM enabled in a promise continuation after the element event: wait a turn.
      if (element.is('enabled', NS_SM) || element.is('failed', NS_SM)) setImmediate(done);
    };
    const timer = setTimeout(done, timeoutMs);
    xmpp.on('element', onElement);
    xmpp.on('offline', done);
    xmpp.on('disconnect', done);
  });
}
