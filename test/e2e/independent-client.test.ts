import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlRequest } from '../../meter-agent/control/control-client.js';
import { NS_METER, NS_PING } from '../../src/protocol/index.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { waitForRecordedState } from './helpers/api.js';
import { startTestStack } from './helpers/test-stack.js';

// Interop with independent XMPP software: slixmpp (Python, Debian's python3-slixmpp), not
// xmpp.js, logs in over STARTTLS with certificate verification against the stack's private CA,
// subscribes to a meter and sees our states the way a chat client does, then polls the meter
// (PROTOCOL §3 status query, XEP-0199 ping, XEP-0030 disco#info). A second account outside the
// meter's ACL is refused (PROTOCOL §2). The Python side is test/interop/slixmpp_operator.py; it
// streams what it sees as JSON lines and takes commands on stdin.

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('../interop/slixmpp_operator.py', import.meta.url));
const METER = 'mtr-0001';

interface PresenceEvent {
  event: 'presence';
  from: string;
  type: string | null;
  show: string | null;
  status: string | null;
  slixmppType: string;
  slixmppShow: string;
  meter: { attrs: Record<string, string>; reason: { code: string; text: string } | null } | null;
}

// biome-ignore lint/suspicious/noExplicitAny: JSON lines from the script, asserted per test
type ClientEvent = { event: string; [key: string]: any };

interface SlixmppClient {
  events: ClientEvent[];
  send(command: string): void;
  waitForEvent(
    what: string,
    match: (e: ClientEvent) => boolean,
    timeoutMs?: number,
  ): Promise<ClientEvent>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcessWithoutNullStreams>();

function startSlixmpp(options: {
  jid: string;
  password: string;
  caFile: string;
  meterJid: string;
  /** Verify the certificate against this name instead of the JID's domain. */
  tlsServerName?: string;
}): SlixmppClient {
  const child = spawn(
    PYTHON,
    [
      SCRIPT,
      '--jid',
      options.jid,
      '--password',
      options.password,
      '--host',
      stack.prosody.host,
      '--port',
      String(stack.prosody.c2sPort),
      '--ca-file',
      options.caFile,
      '--meter',
      options.meterJid,
      ...(options.tlsServerName ? ['--tls-server-name', options.tlsServerName] : []),
    ],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  running.add(child);
  const events: ClientEvent[] = [];
  let stderr = '';
  let exited = false;
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as ClientEvent);
    } catch {
      events.push({ event: 'unparsed', line });
    }
  });
  child.on('exit', () => {
    exited = true;
    running.delete(child);
  });
  child.stdin.on('error', () => {}); // EPIPE after the process is gone
  const describeState = () =>
    `\nevents so far: ${JSON.stringify(events)}\nstderr: ${stderr.slice(-2000)}`;
  return {
    events,
    send(command) {
      child.stdin.write(`${command}\n`);
    },
    async waitForEvent(what, match, timeoutMs = 10_000) {
      try {
        return await waitFor(
          what,
          () => {
            const found = events.find(match);
            if (found) return found;
            if (exited) throw new Error('the slixmpp process exited');
            return undefined;
          },
          timeoutMs,
        );
      } catch (error) {
        throw new Error(`${(error as Error).message}${describeState()}`);
      }
    },
    async stop() {
      if (exited) return;
      const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.stdin.end('quit\n');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await gone;
      clearTimeout(timer);
    },
  };
}

const isPresence = (e: ClientEvent): e is ClientEvent & PresenceEvent => e.event === 'presence';
const fromMeter = (e: ClientEvent) => String(e.from ?? '').startsWith(`${METER}@`);

let stack: Stack;
let operator: SlixmppClient;
let meterJid: string;

beforeAll(async () => {
  try {
    execFileSync(PYTHON, ['-c', 'import slixmpp'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      `${PYTHON} cannot import slixmpp: apt-get install -y python3-slixmpp (.ci/run does this)`,
    );
  }
  stack = await startTestStack(1);
  meterJid = `${METER}@${stack.prosody.domain}`;
  stack.startAgent(METER);
  await waitForRecordedState(stack, METER, 'available');
  operator = startSlixmpp({
    jid: stack.operator.jid,
    password: stack.operator.password,
    caFile: stack.prosody.caFile,
    meterJid,
  });
  await operator.waitForEvent('slixmpp to log in as the operator', (e) => e.event === 'online');
}, 60_000);

afterAll(async () => {
  await Promise.all([...running].map((child) => stopChild(child)));
  await stack?.stop();
});

async function stopChild(child: ChildProcessWithoutNullStreams): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await gone;
}

describe('slixmpp as the operator (STARTTLS, private CA)', () => {
  let lastSeq: number;

  it('verified the server certificate against the private CA and the JID’s domain', () => {
    const tls = operator.events.find((e) => e.event === 'tls');
    expect(tls).toMatchObject({
      encrypted: true,
      serverName: stack.prosody.domain,
      checkHostname: true,
      verifyRequired: true,
    });
    expect(tls?.peerNames).toContain(stack.prosody.domain);
  });

  it('fetches the roster, is approved, and sees the meter available', async () => {
    expect(operator.events.find((e) => e.event === 'roster')).toBeDefined();
    operator.send('subscribe');
    await operator.waitForEvent(
      'the meter to approve the subscription',
      (e) => isPresence(e) && fromMeter(e) && e.type === 'subscribed',
    );
    const seen = (await operator.waitForEvent(
      "the meter's presence",
      (e) => isPresence(e) && e.from === `${meterJid}/agent` && e.meter !== null,
    )) as PresenceEvent;
    expect(seen.type).toBeNull();
    expect(seen.show).toBeNull();
    expect(seen.slixmppType).toBe('available');
    expect(seen.status).toEqual(expect.any(String));
    expect(seen.meter?.attrs).toMatchObject({ state: 'available', kind: 'revenue-meter' });
    expect(seen.meter?.attrs.since).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    lastSeq = Number(seen.meter?.attrs.seq);
    expect(lastSeq).toBeGreaterThanOrEqual(1);
    expect(operator.events.filter((e) => e.event === 'disconnected')).toEqual([]);
  });

  it('sees tamper as <show>away</show> and maintenance as <show>dnd</show>, live', async () => {
    const agentDir = stack.agents.get(METER)?.dataDir as string;
    const steps = [
      {
        request: { op: 'inject', name: 'tamper' } as const,
        show: 'away',
        state: 'restricted',
        reason: 'tamper-suspected',
      },
      {
        request: { op: 'maintenance', enable: true } as const,
        show: 'dnd',
        state: 'unavailable',
        reason: 'maintenance',
      },
    ];
    for (const step of steps) {
      await controlRequest(agentDir, step.request);
      const seq = lastSeq + 1;
      const seen = (await operator.waitForEvent(
        `slixmpp to see ${step.state}/${step.reason}`,
        (e) => isPresence(e) && fromMeter(e) && e.meter?.attrs.seq === String(seq),
      )) as PresenceEvent;
      expect(seen.from).toBe(`${meterJid}/agent`);
      expect(seen.type).toBeNull();
      expect(seen.show).toBe(step.show);
      expect(seen.slixmppType).toBe(step.show);
      expect(seen.status).toEqual(expect.any(String));
      expect(seen.status?.length).toBeGreaterThan(0);
      expect(seen.meter?.attrs.state).toBe(step.state);
      expect(seen.meter?.reason?.code).toBe(step.reason);
      lastSeq = seq;
    }
  });

  it('gets the status query answered with the current <meter/> (PROTOCOL §3)', async () => {
    operator.send('query q1');
    const answer = await operator.waitForEvent(
      'the status answer',
      (e) => (e.event === 'status' || e.event === 'iq-error') && e.tag === 'q1',
    );
    expect(answer).toMatchObject({ event: 'status', type: 'result', from: `${meterJid}/agent` });
    expect(answer.hasStatus).toBe(true);
    expect(answer.meter.attrs).toMatchObject({
      state: 'unavailable',
      seq: String(lastSeq),
      kind: 'revenue-meter',
    });
    expect(answer.meter.reason.code).toBe('maintenance');
  });

  it('gets XEP-0199 ping and XEP-0030 disco#info answered by the meter', async () => {
    operator.send('ping p1');
    operator.send('disco d1');
    const ping = await operator.waitForEvent(
      'the ping answer',
      (e) => (e.event === 'ping' || e.event === 'iq-error') && e.tag === 'p1',
    );
    expect(ping).toMatchObject({ event: 'ping', ok: true });
    const disco = await operator.waitForEvent(
      'the disco#info answer',
      (e) => (e.event === 'disco' || e.event === 'iq-error') && e.tag === 'd1',
    );
    expect(disco.event).toBe('disco');
    expect(disco.features).toEqual(expect.arrayContaining([NS_METER, NS_PING]));
    expect(disco.identities).toContainEqual(expect.arrayContaining(['client', 'bot']));
  });
});

describe('slixmpp as an account outside the ACL (PROTOCOL §2)', () => {
  it('gets `unsubscribed` and auth/forbidden, and never the meter’s presence', async () => {
    await stack.prosody.createAccounts([{ username: 'outsider', password: 'outsider-pass-1' }]);
    const outsider = startSlixmpp({
      jid: `outsider@${stack.prosody.domain}`,
      password: 'outsider-pass-1',
      caFile: stack.prosody.caFile,
      meterJid,
    });
    try {
      await outsider.waitForEvent('the outsider to log in', (e) => e.event === 'online');
      outsider.send('subscribe');
      const answer = await outsider.waitForEvent(
        'an answer to the subscription',
        (e) =>
          isPresence(e) && fromMeter(e) && ['subscribed', 'unsubscribed'].includes(String(e.type)),
      );
      expect(answer.type).toBe('unsubscribed');

      outsider.send('query q2');
      const refused = await outsider.waitForEvent(
        'the status answer',
        (e) => (e.event === 'status' || e.event === 'iq-error') && e.tag === 'q2',
      );
      expect(refused).toMatchObject({ event: 'iq-error', type: 'auth', condition: 'forbidden' });
      expect(outsider.events.some((e) => isPresence(e) && fromMeter(e) && e.meter)).toBe(false);

      // Ping and disco#info would tell a stranger the meter is online: answered as if offline.
      outsider.send('ping p2');
      outsider.send('disco d2');
      for (const tag of ['p2', 'd2']) {
        const hidden = await outsider.waitForEvent(
          `the answer to ${tag}`,
          (e) => ['ping', 'disco', 'iq-error'].includes(String(e.event)) && e.tag === tag,
        );
        expect(hidden).toMatchObject({ event: 'iq-error', condition: 'service-unavailable' });
      }
    } finally {
      await outsider.stop();
    }
  });
});

describe('certificate verification is really on', () => {
  async function expectRefused(
    options: { caFile: string; tlsServerName?: string },
    message: RegExp,
  ): Promise<void> {
    const client = startSlixmpp({
      jid: stack.operator.jid,
      password: stack.operator.password,
      meterJid,
      ...options,
    });
    try {
      await client.waitForEvent(
        'slixmpp to reject the certificate',
        (e) => e.event === 'tls-failed' || e.event === 'online',
      );
      expect(client.events.map((e) => e.event)).not.toContain('online');
      expect(client.events.find((e) => e.event === 'tls-failed')?.error).toMatch(message);
    } finally {
      await client.stop();
    }
  }

  it('refuses the server when trusting another CA', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gp-other-ca-'));
    const otherCa = join(dir, 'ca.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'ca.key'),
        '-out',
        otherCa,
        '-subj',
        '/CN=Some other CA',
        '-days',
        '1',
      ],
      { stdio: 'ignore' },
    );
    expect(existsSync(otherCa)).toBe(true);
    await expectRefused({ caFile: otherCa }, /certificate verify failed/);
  });

  it('refuses a certificate that does not name the expected domain', async () => {
    await expectRefused(
      { caFile: stack.prosody.caFile, tlsServerName: 'grid.example' },
      /Hostname mismatch/,
    );
  });
});
