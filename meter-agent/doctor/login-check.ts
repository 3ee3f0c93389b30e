import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Client } from '@xmpp/client';
import xml, { type Element } from '@xmpp/xml';
import { silentLogger } from '../../src/log.js';
import { AGENT_RESOURCE } from '../../src/protocol/meter-id.js';
import { createClient } from '../../src/xmpp/create-client.js';
import { awaitStreamManagement } from '../../src/xmpp/workarounds/await-stream-management.js';
import { type Check, type CheckOutcome, fail, ok, type RosterItem, required } from './check.js';

// Check 6: a real login with the configured credentials, through the same client assembly as the
// agent (createClient: direct TLS, the CA, fast SCRAM). It binds its own resource, never the
// agent's (PROTOCOL "Names": `agent`), so a running agent is not kicked off (a second session on
// one resource replaces the first), and it sends no presence: nobody sees it and no subscription
// request is delivered to it. While logged in it reads the roster for the subscription check.

/** `doctor-` and a random suffix: two doctors at once do not kick each other off either. */
export function doctorResource(): string {
  const resource = `doctor-${randomBytes(3).toString('hex')}`;
  if (resource === AGENT_RESOURCE) throw new Error('the doctor must not use the agent resource');
  return resource;
}

/** RFC 6121 §2.1.3: the roster the server keeps for the account. */
const ROSTER_QUERY = () => xml('query', { xmlns: 'jabber:iq:roster' });

export const loginCheck: Check = {
  name: 'login',
  needs: ['tls'],
  // Several round trips and SCRAM: twice the base.
  timeoutMs: (_ctx, baseMs) => 2 * baseMs,
  async run(ctx, { signal, timeoutMs }) {
    const config = required(ctx.config, 'the config');
    const account = `${config.meterId}@${config.domain}`;
    const resource = doctorResource();
    const xmpp = await createClient({
      service: `xmpps://${config.xmpp.host}:${config.xmpp.port}`,
      domain: config.domain,
      username: config.meterId,
      password: config.xmpp.password,
      resource,
      caPem: config.xmpp.caFile ? readFileSync(config.xmpp.caFile, 'utf8') : undefined,
      logger: silentLogger(),
    });
    xmpp.on('error', () => {}); // start() rejects with the same error
    let onAbort: () => void = () => {};
    const aborted = new Promise<CheckOutcome>((resolve) => {
      onAbort = () =>
        resolve(
          fail(
            `the server did not complete the login of ${account} within ${timeoutMs} ms`,
            'the server may be overloaded or a middlebox stalls the stream: try a larger --timeout-ms, then ask the server operator',
          ),
        );
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([aborted, loginAndReadRoster(xmpp, ctx, account, resource)]);
    } finally {
      signal.removeEventListener('abort', onAbort);
      await stopQuietly(xmpp);
    }
  },
};

async function loginAndReadRoster(
  xmpp: Client,
  ctx: { roster?: RosterItem[] | { error: string } },
  account: string,
  resource: string,
): Promise<CheckOutcome> {
  try {
    await xmpp.start();
  } catch (error) {
    return loginFailure(error, account);
  }
  // XMPP-NOTES "Stream management": nothing may arrive together with <enabled/>.
  await awaitStreamManagement(xmpp, 2_000);
  try {
    const result = await xmpp.iqCaller.get(ROSTER_QUERY());
    ctx.roster = (result?.getChildren('item') ?? []).map((item: Element) => ({
      jid: String(item.attrs.jid ?? ''),
      subscription: String(item.attrs.subscription ?? 'none'),
      ask: item.attrs.ask === undefined ? undefined : String(item.attrs.ask),
    }));
  } catch (error) {
    ctx.roster = { error: (error as Error)?.message ?? String(error) };
  }
  return ok(`logged in as ${account}/${resource} (SASL, no presence sent)`);
}

function loginFailure(error: unknown, account: string): CheckOutcome {
  const e = error as { name?: string; condition?: string; message?: string; code?: string };
  if (e?.name === 'SASLError') {
    const condition = e.condition ?? 'failure';
    if (condition === 'not-authorized') {
      return fail(
        `the server refused the login of ${account}: not-authorized`,
        'not-authorized: check xmpp.password (or GP_XMPP_PASSWORD / xmpp.passwordFile) and that the account exists on the server',
      );
    }
    if (condition === 'account-disabled' || condition === 'credentials-expired') {
      return fail(
        `the server refused the login of ${account}: ${condition}`,
        'the account is disabled or its password expired: ask the server operator',
      );
    }
    return fail(
      `the server refused the login of ${account}: ${condition}`,
      'check the account and password; the server offers SCRAM-SHA-1 or PLAIN over TLS',
    );
  }
  if (e?.name === 'StreamError') {
    if (e.condition === 'host-unknown') {
      return fail(
        `the server does not serve the XMPP domain of ${account} (host-unknown)`,
        'check `domain` in the config: it must be the domain the server hosts',
      );
    }
    return fail(
      `the server ended the stream: ${e.condition ?? e.message}`,
      "see the server's log for the reason, or ask its operator",
    );
  }
  return fail(
    `the login of ${account} failed: ${e?.code ? `[${e.code}] ` : ''}${e?.message ?? String(error)}`,
    'check the network path and the server; run doctor again',
  );
}

async function stopQuietly(xmpp: Client): Promise<void> {
  await Promise.race([
    xmpp.stop().catch(() => {}),
    new Promise((resolve) => setTimeout(resolve, 2_000).unref()),
  ]);
}
