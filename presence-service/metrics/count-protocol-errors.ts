import type { PresenceStore } from '../store/presence-store.js';
import type { Metrics } from './metrics.js';

// Protocol errors reach the presence store by three roads (the presence handler through the
// recorder, the data handler, e-mail replies); counting them where they are stored counts each
// once, whichever road it took. The store itself stays unaware of metrics.

/** The same store, whose recordProtocolError also counts the error. */
export function countProtocolErrors(
  store: PresenceStore,
  metrics: Pick<Metrics, 'protocolError'>,
): PresenceStore {
  return {
    ...store,
    recordProtocolError(input) {
      store.recordProtocolError(input);
      metrics.protocolError();
    },
  };
}
