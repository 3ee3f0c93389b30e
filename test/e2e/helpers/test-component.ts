import type { Element } from '@xmpp/xml';
import {
  type ComponentConnection,
  createComponentConnection,
} from '../../../presence-service/xmpp/component-connection.js';
import type { RunningProsody } from '../../../src/harness/index.js';
import { silentLogger } from '../../../src/log.js';

/**
 * The presence service's component connection alone, online on a harness Prosody, with every
 * stanza it receives kept in `received`: for tests that play the service's side by hand.
 * The caller stops it (`connection.supervisor.stop()`).
 */
export async function startTestComponent(
  prosody: RunningProsody,
): Promise<{ connection: ComponentConnection; received: Element[] }> {
  const received: Element[] = [];
  let online: () => void = () => {};
  const isOnline = new Promise<void>((resolve) => {
    online = resolve;
  });
  const connection = await createComponentConnection({
    host: prosody.host,
    port: prosody.componentPort,
    jid: prosody.componentJid,
    secret: prosody.componentSecret,
    backoffBaseMs: 200,
    backoffMaxMs: 2_000,
    logger: silentLogger(),
    onOnline: () => online(),
    onOffline: () => {},
    onFatal: () => {},
  });
  connection.xmpp.on('stanza', (s: Element) => received.push(s));
  connection.supervisor.start();
  await isOnline;
  return { connection, received };
}
