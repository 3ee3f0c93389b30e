import { createSecureContext, type SecureContext } from 'node:tls';
import { type Client, client } from '@xmpp/client';
import type { Logger } from '../log.js';
import { installFastScram } from './workarounds/fast-scram.js';
import { dropStaleNonzaListeners } from './workarounds/stale-nonza-listeners.js';
import { installStopCrashGuard } from './workarounds/stop-crash-guard.js';
import { installWriteAfterEndGuard } from './workarounds/write-after-end-guard.js';

// The one place an XMPP client is assembled for a meter (single agent and fleet mode alike).

export interface ClientOptions {
  /** Direct TLS (XEP-0368): `xmpps://host:port`; STARTTLS: `xmpp://host:port`. */
  service: string;
  domain: string;
  username: string;
  password: string;
  resource: string;
  /** PEM of a private CA to trust for this connection (direct TLS only), besides nothing else. */
  caPem?: string | undefined;
  /**
   * Dead-link detection (docs/liveness.md): an XEP-0198 `<r/>` after `intervalMs` without
   * traffic; no answer within `timeoutMs` drops the link, and the supervisor reconnects.
   * xmpp.js's own defaults are 30 s and 60 s.
   */
  keepAlive?: { intervalMs: number; timeoutMs: number };
  logger: Logger;
}

let workaroundsInstalled: Promise<void> | undefined;

/** Applies the xmpp.js workarounds once per process (see src/xmpp/workarounds/). */
export function installXmppWorkarounds(): Promise<void> {
  workaroundsInstalled ??= (async () => {
    installFastScram();
    await installStopCrashGuard();
    installWriteAfterEndGuard();
  })();
  return workaroundsInstalled;
}

export async function createClient(options: ClientOptions): Promise<Client> {
  await installXmppWorkarounds();
  const xmpp = client({
    service: options.service,
    domain: options.domain,
    username: options.username,
    password: options.password,
    resource: options.resource,
  });
  // We reconnect ourselves with jittered exponential backoff (src/xmpp/backoff.ts).
  xmpp.reconnect.stop();
  dropStaleNonzaListeners(xmpp as unknown as Parameters<typeof dropStaleNonzaListeners>[0]);
  if (options.keepAlive) {
    const sm = xmpp.streamManagement as unknown as { requestAckInterval: number; timeout: number };
    sm.requestAckInterval = options.keepAlive.intervalMs;
    sm.timeout = options.keepAlive.timeoutMs;
  }
  if (options.service.startsWith('xmpps:')) {
    trustForThisConnection(xmpp, options);
  } else if (options.caPem) {
    // STARTTLS upgrades inside xmpp.js with no way to pass a CA: refuse rather than ignore it.
    throw new Error('a private CA needs direct TLS (an xmpps:// service)');
  }
  // Nagle's algorithm put the p99 of a presence at 43 ms on loopback; 1.5 ms without it
  // (XMPP-NOTES "Latency").
  xmpp.on('connect', () => {
    const socket = (xmpp.socket as unknown as { socket?: { setNoDelay?: (on: boolean) => void } })
      ?.socket;
    socket?.setNoDelay?.(true);
  });
  return xmpp;
}

/**
 * xmpp.js has no per-connection TLS option (XMPP-NOTES "TLS"). Its direct-TLS socket passes the
 * transport's socket parameters straight to tls.connect(), so adding `ca` and `servername` there
 * gives certificate verification against the private CA and the XMPP domain, for this connection
 * only; rejectUnauthorized stays at its default (true).
 *
 * The CA goes in as one SecureContext per CA, shared by every connection that trusts it: given
 * as `ca`, tls.connect() parses the PEM and builds a context for each connection, which in the
 * bench profile was a visible part of a fleet process's CPU per login (BENCHMARKS.md).
 */
function trustForThisConnection(xmpp: Client, options: ClientOptions): void {
  const entity = xmpp as unknown as {
    Transport: { prototype: { socketParameters(service: string): object | undefined } };
    socketParameters(service: string): object | undefined;
  };
  entity.socketParameters = (service: string) => {
    const params = entity.Transport.prototype.socketParameters(service);
    if (!params) return params;
    return {
      ...params,
      servername: options.domain,
      ...(options.caPem ? { secureContext: secureContextFor(options.caPem) } : {}),
    };
  };
}

const secureContexts = new Map<string, SecureContext>();

/** One context per CA PEM: only that CA is trusted (as `ca` would), never the system's. */
function secureContextFor(caPem: string): SecureContext {
  let context = secureContexts.get(caPem);
  if (!context) {
    context = createSecureContext({ ca: caPem });
    secureContexts.set(caPem, context);
  }
  return context;
}
