import { createRequire } from 'node:module';

// WORKAROUND (XMPP-NOTES "xmpp.js / Crash"): @xmpp/connection 0.14.0 throws an uncaught
// TypeError when socket data arrives after stop(), because `_onData` writes to a parser that is
// already null. That killed a process stopping 5,000 clients. Fixed upstream but not released:
// drop data that arrives when there is no parser (the stream is closed, nobody wants it).
// @xmpp/component 0.13.1 brings its own copy of @xmpp/connection, so both are guarded.

interface ConnectionPrototype {
  _onData(this: { parser: unknown }, data: Buffer): void;
  __gridpresenceGuarded?: boolean;
}

const require = createRequire(import.meta.url);

/** The Connection classes in use: the client's (ESM) and the component's (CJS) copy. */
export async function connectionPrototypes(): Promise<ConnectionPrototype[]> {
  const clientConnection = (await import('@xmpp/connection')).default as unknown as {
    prototype: ConnectionPrototype;
  };
  const protos = [clientConnection.prototype];
  try {
    // @xmpp/component → component-core → connection-tcp 0.13 → its own @xmpp/connection 0.13.
    const fromComponent = createRequire(require.resolve('@xmpp/component'));
    const fromCore = createRequire(fromComponent.resolve('@xmpp/component-core'));
    const fromTcp = createRequire(fromCore.resolve('@xmpp/connection-tcp'));
    const componentConnection = fromTcp('@xmpp/connection') as {
      prototype: ConnectionPrototype;
    };
    if (!protos.includes(componentConnection.prototype)) protos.push(componentConnection.prototype);
  } catch {
    // The component package is not installed in this build (e.g. the agent-only bundle).
  }
  return protos;
}

export async function installStopCrashGuard(): Promise<void> {
  for (const proto of await connectionPrototypes()) {
    if (proto.__gridpresenceGuarded) continue;
    const original = proto._onData;
    proto._onData = function guardedOnData(data) {
      if (!this.parser) return;
      original.call(this, data);
    };
    proto.__gridpresenceGuarded = true;
  }
}
