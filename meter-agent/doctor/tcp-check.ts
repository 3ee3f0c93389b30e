import { connect } from 'node:net';
import { type Check, type CheckOutcome, fail, ok, required } from './check.js';

// Check 4: something accepts TCP connections on xmpp.port at one of the addresses DNS gave.
// Refused, timed out and unreachable have different causes, so they are told apart.

type Attempt = { ok: true; ms: number } | { ok: false; why: 'timeout' | string };

export const tcpCheck: Check = {
  name: 'tcp',
  needs: ['dns'],
  async run(ctx, { signal, timeoutMs }) {
    const { port, host } = required(ctx.config, 'the config').xmpp;
    const addresses = required(ctx.addresses, 'the addresses');
    const failures: Array<{ address: string; why: string }> = [];
    for (const address of addresses) {
      const attempt = await tryConnect(address, port, signal);
      if (attempt.ok) {
        ctx.reachedAddress = address;
        return ok(`${address}:${port} accepts connections (${attempt.ms} ms)`);
      }
      failures.push({ address, why: attempt.why });
      if (signal.aborted) break;
    }
    return explain(host, port, failures, timeoutMs);
  },
};

function tryConnect(address: string, port: number, signal: AbortSignal): Promise<Attempt> {
  return new Promise((resolve) => {
    const startedAt = Date.now();
    const socket = connect({ host: address, port });
    const finish = (attempt: Attempt) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(attempt);
    };
    const onAbort = () => finish({ ok: false, why: 'timeout' });
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort);
    socket.once('connect', () => finish({ ok: true, ms: Date.now() - startedAt }));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish({ ok: false, why: error.code ?? error.message }),
    );
  });
}

function explain(
  host: string,
  port: number,
  failures: Array<{ address: string; why: string }>,
  timeoutMs: number,
): CheckOutcome {
  const where = failures.map((f) => `${f.address}:${port}`).join(', ');
  const whys = new Set(failures.map((f) => f.why));
  const [why] = whys;
  if (whys.size === 1 && why === 'ECONNREFUSED') {
    return fail(
      `connection refused by ${where}: nothing listens on port ${port} there`,
      `check xmpp.port (the server's direct-TLS port, usually 5223) and that the XMPP server runs on ${host}`,
    );
  }
  if (whys.size === 1 && why === 'timeout') {
    return fail(
      `no answer from ${where} within ${timeoutMs} ms: the connection timed out`,
      'a firewall drops the packets or the host is down: check the network path and that outbound TCP to this port is allowed',
    );
  }
  if (whys.size === 1 && (why === 'EHOSTUNREACH' || why === 'ENETUNREACH')) {
    return fail(
      `${where} is unreachable (${why}): no route from this device`,
      "check this device's network link, address and default route (ip route), or the VPN/APN",
    );
  }
  return fail(
    `cannot connect to port ${port} of ${host}: ${failures.map((f) => `${f.address} ${f.why}`).join('; ')}`,
    'check xmpp.host, xmpp.port and the network path to the server',
  );
}
