import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import Fastify, { type FastifyInstance } from 'fastify';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EmailChannel, startEmailChannel } from '../../meter-agent/email/email-channel.js';
import type { EmailConfig } from '../../presence-service/config.js';
import { createEmailPoller, type EmailPoller } from '../../presence-service/email/email-poller.js';
import { installErrorHandlers } from '../../presence-service/http/api-errors.js';
import { registerEmailRoutes } from '../../presence-service/http/email-routes.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { createPresenceRecorder } from '../../presence-service/presence/presence-recorder.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createEmailPollStore } from '../../presence-service/store/email-poll-store.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import {
  createPresenceStore,
  type PresenceStore,
} from '../../presence-service/store/presence-store.js';
import type { SmtpListener, SmtpOutgoing } from '../../src/config/email-schemas.js';
import {
  MailRejected,
  type ReceivedMail,
  type RunningSmtpListener,
  startSmtpListener,
} from '../../src/email/smtp-listener.js';
import { createSmtpSender, type SmtpSender } from '../../src/email/smtp-sender.js';
import { createRootLogger, type Logger } from '../../src/log.js';
import {
  buildPollMail,
  buildReplyMail,
  newPollToken,
  POLL_HEADER,
  POLL_HEADER_KEY,
  parseReplyMail,
} from '../../src/protocol/email-poll.js';
import type { MeterStatus } from '../../src/protocol/index.js';
import { waitFor } from '../../src/stack/wait.js';

// E-mail polling end to end (docs/liveness.md): the service's poller and the agent's e-mail
// channel, each with its own SMTP listener on 127.0.0.1 (port 0), STARTTLS everywhere with
// certificates from a private CA made here. Between them a test relay, as in the field: the
// service sends through it; it forwards the agent's mail and keeps what it received for meter 2,
// whose "meter" is the test itself, so that replies can be late, forged or malformed on purpose.

const MAIL_HOST = 'mail.grid.example';
const SERVICE = 'presence@grid.example';
const AGENT = 'mtr-000001@meters.grid.example';
const PUPPET = 'mtr-000002@meters.grid.example';
const LIMITED = 'mtr-000004@meters.grid.example';
const STRANGER = 'mallory@evil.example';
const REPLY_TIMEOUT_S = 300;

const agentStatus: MeterStatus = {
  state: 'restricted',
  seq: 7,
  since: '2026-11-27T14:00:00Z',
  kind: 'revenue-meter',
  reason: { code: 'load-limit', text: 'limit 5 kW' },
};
const puppetStatus: MeterStatus = {
  state: 'available',
  seq: 3,
  since: '2026-11-27T15:00:00Z',
  kind: 'relay',
};

let dir: string;
let pki: { caFile: string; certFile: string; keyFile: string };
let logs: Array<Record<string, unknown>>;
let logger: Logger;
let db: Database;
let store: PresenceStore;
let poller: EmailPoller;
let relay: RunningSmtpListener;
let relayed: ReceivedMail[];
let forwarder: SmtpSender;
let agent: EmailChannel;
let limitedAgent: EmailChannel;
/** The service's clock runs this far ahead of the real one. */
let clockOffsetMs = 0;

const incoming = (): SmtpListener => ({
  host: '127.0.0.1',
  port: 0,
  certFile: pki.certFile,
  keyFile: pki.keyFile,
  maxBytes: 64 * 1024,
});
const outgoing = (port: number, overrides: Partial<SmtpOutgoing> = {}): SmtpOutgoing => ({
  host: '127.0.0.1',
  port,
  security: 'starttls',
  caFile: pki.caFile,
  servername: MAIL_HOST,
  timeoutMs: 10_000,
  ...overrides,
});
const rejects = (reason: string) =>
  createEmailPollStore({ db })
    .rejects(1000)
    .filter((r) => r.reason === reason);
const pollOf = (token: string) => createEmailPollStore({ db }).get(token);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gp-email-'));
  pki = await makePki(dir);
  ({ logs, logger } = capturedLogger());

  db = openDatabase(join(dir, 'presence.db'));
  const registry = createMeterRegistry({ db });
  registry.addMany([
    { id: 'mtr-000001', domain: 'grid.example', email: AGENT },
    { id: 'mtr-000002', domain: 'grid.example', email: PUPPET },
    { id: 'mtr-000003', domain: 'grid.example' },
  ]);
  store = createPresenceStore({ db });
  const recorder = createPresenceRecorder({ store, bus: createChangeBus(), logger });

  relayed = [];
  relay = await startSmtpListener({
    settings: incoming(),
    serverName: MAIL_HOST,
    acceptsRecipient: (address) => [AGENT, PUPPET, SERVICE].includes(address),
    onMail: async (mail) => {
      relayed.push(mail);
      if (mail.recipients.includes(AGENT)) await forward(mail);
    },
    logger,
  });

  const config: EmailConfig = {
    address: SERVICE,
    outgoing: outgoing(relay.port),
    incoming: incoming(),
    replyTimeoutS: REPLY_TIMEOUT_S,
  };
  poller = createEmailPoller({
    config,
    db,
    meterAddress: (id) => registry.get(id)?.email ?? null,
    recorder,
    logger,
    now: () => new Date(Date.now() + clockOffsetMs),
    sweepEveryMs: 50,
  });
  await poller.start();

  agent = await startEmailChannel({
    settings: {
      address: AGENT,
      serviceAddress: SERVICE,
      incoming: incoming(),
      outgoing: outgoing(poller.port),
    },
    meterId: 'mtr-000001',
    currentStatus: () => agentStatus,
    logger,
    minReplyIntervalMs: 1,
  });
  forwarder = createSmtpSender(outgoing(agent.port), logger);
  // One reply a minute, and its replies stay at the relay, where the test reads them.
  limitedAgent = await startEmailChannel({
    settings: {
      address: LIMITED,
      serviceAddress: SERVICE,
      incoming: incoming(),
      outgoing: outgoing(relay.port),
    },
    meterId: 'mtr-000004',
    currentStatus: () => puppetStatus,
    logger,
    minReplyIntervalMs: 60_000,
  });
});

afterAll(async () => {
  // Senders first: a listener waits for the sessions still open to it before it closes.
  forwarder?.close();
  await agent?.close();
  await limitedAgent?.close();
  await poller?.stop();
  await relay?.close();
  db?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The relay's hop to the agent; the agent's refusal is passed back to the sender as is. */
async function forward(mail: ReceivedMail): Promise<void> {
  try {
    await forwarder.send({
      from: mail.fromHeader ?? mail.envelopeFrom,
      to: AGENT,
      subject: mail.subject,
      text: mail.text,
      headers: { [POLL_HEADER]: mail.headers.get(POLL_HEADER_KEY)?.[0] ?? '' },
      ...(mail.messageId ? { messageId: mail.messageId } : {}),
    });
  } catch (error) {
    const code = (error as { responseCode?: number }).responseCode ?? 451;
    throw new MailRejected(code, (error as Error).message);
  }
}

/** Sends one message as an arbitrary client would: any envelope, any headers. */
async function sendRaw(
  port: number,
  mail: {
    envelopeFrom: string;
    from?: string;
    to: string;
    subject: string;
    text: string;
    headers?: Record<string, string>;
    replyTo?: string;
  },
): Promise<string> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    requireTLS: true,
    tls: { ca: readFileSync(pki.caFile), servername: MAIL_HOST },
  });
  try {
    const info = await transport.sendMail({
      envelope: { from: mail.envelopeFrom, to: mail.to },
      from: mail.from ?? mail.envelopeFrom,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      headers: mail.headers ?? {},
      ...(mail.replyTo ? { replyTo: mail.replyTo } : {}),
    });
    return info.messageId;
  } finally {
    transport.close();
  }
}

/** Polls meter 2 and returns the token of the poll as it reached the relay. */
async function pollPuppet(): Promise<string> {
  expect(await poller.poll('mtr-000002')).toBe('sent');
  const mail = relayed.filter((m) => m.recipients.includes(PUPPET)).at(-1) as ReceivedMail;
  expect(mail).toMatchObject({ envelopeFrom: SERVICE, fromHeader: SERVICE, secure: true });
  return mail.headers.get(POLL_HEADER_KEY)?.[0] as string;
}

/** A reply from meter 2 (or someone posing as it) straight to the service's listener. */
function replyToService(
  token: string,
  options: { envelopeFrom?: string; from?: string; text?: string } = {},
): Promise<string> {
  const content = buildReplyMail(token, puppetStatus);
  return sendRaw(poller.port, {
    envelopeFrom: options.envelopeFrom ?? PUPPET,
    from: options.from ?? options.envelopeFrom ?? PUPPET,
    to: SERVICE,
    subject: content.subject,
    headers: content.headers,
    text: options.text ?? content.text,
  });
}

describe('a poll round trip', () => {
  it("records the meter's state with source 'email' and marks the poll answered", async () => {
    expect(await poller.poll('mtr-000001')).toBe('sent');
    const current = await waitFor(
      'the e-mail answer to be recorded',
      () => (store.current('mtr-000001')?.source === 'email' ? store.current('mtr-000001') : false),
      10_000,
    );
    expect(current).toMatchObject({
      state: 'restricted',
      seq: 7,
      reasonCode: 'load-limit',
      reasonText: 'limit 5 kW',
    });
    const [poll] = poller.recentPolls('mtr-000001', 1);
    expect(poll).toMatchObject({ outcome: 'answered', address: AGENT });
    expect(poll?.answeredAt).not.toBeNull();
    expect(store.history('mtr-000001', { limit: 10 }).map((c) => c.source)).toEqual(['email']);
  });

  it('does not answer the meter without an address', async () => {
    expect(await poller.poll('mtr-000003')).toBe('no-address');
  });
});

describe('the service refuses replies it cannot trust (550 at the end of DATA)', () => {
  it('accepts a genuine reply once and refuses a second copy as a duplicate', async () => {
    const token = await pollPuppet();
    await replyToService(token);
    expect(pollOf(token)?.outcome).toBe('answered');
    expect(store.current('mtr-000002')).toMatchObject({ state: 'available', source: 'email' });
    await expect(replyToService(token)).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('duplicate'),
    });
    expect(rejects('duplicate').map((r) => r.token)).toContain(token);
  });

  it.each([
    ['the envelope sender', { envelopeFrom: STRANGER, from: PUPPET }],
    ['the From header', { envelopeFrom: PUPPET, from: STRANGER }],
  ])('refuses a reply with the right token but a stranger as %s (forged)', async (_w, sender) => {
    const token = await pollPuppet();
    await expect(replyToService(token, sender)).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('forged'),
    });
    const stored = rejects('forged').find((r) => r.token === token);
    expect(stored).toMatchObject({ meterId: 'mtr-000002', mailFrom: sender.envelopeFrom });
    // The forgery changed nothing: the meter's own reply is still taken.
    expect(pollOf(token)?.outcome).toBe('pending');
    await replyToService(token);
    expect(pollOf(token)?.outcome).toBe('answered');
    // Logged with the reason, and never with the whole token (it is the poll's secret).
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: 'e-mail reply rejected', reason: 'forged' }),
    );
    expect(JSON.stringify(logs)).not.toContain(token);
  });

  it('refuses a reply with a token it never sent', async () => {
    const token = newPollToken();
    await expect(replyToService(token)).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('unknown-token'),
    });
    expect(rejects('unknown-token').map((r) => r.token)).toContain(token);
  });

  it('refuses a reply after the poll expired, and marks the poll expired', async () => {
    const token = await pollPuppet();
    clockOffsetMs += (REPLY_TIMEOUT_S + 1) * 1000;
    await expect(replyToService(token)).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('late'),
    });
    expect(pollOf(token)?.outcome).toBe('expired');
    expect(rejects('late').map((r) => r.token)).toContain(token);
  });

  it('refuses a reply whose body is not a status answer, and records a protocol error', async () => {
    const token = await pollPuppet();
    await expect(replyToService(token, { text: 'All fine here.\n' })).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('malformed'),
    });
    expect(rejects('malformed').map((r) => r.token)).toContain(token);
    expect(store.protocolErrors('mtr-000002', 10)[0]?.error).toMatch(/^e-mail reply: /);
    expect(pollOf(token)?.outcome).toBe('pending');
  });

  it('marks a poll nobody answers expired once its time is up', async () => {
    const token = await pollPuppet();
    clockOffsetMs += (REPLY_TIMEOUT_S + 1) * 1000;
    await waitFor(
      'the sweep to expire the poll',
      () => pollOf(token)?.outcome === 'expired',
      5_000,
    );
    expect(pollOf(token)?.detail).toBe('no reply before expiry');
    expect(logs).toContainEqual(
      expect.objectContaining({ msg: 'e-mail polls expired without a reply' }),
    );
  });
});

describe("the agent's e-mail channel", () => {
  const poll = (token: string) => buildPollMail(token);

  it.each([
    ['a stranger', { envelopeFrom: STRANGER, from: STRANGER }],
    ['a stranger posing in the From header', { envelopeFrom: SERVICE, from: STRANGER }],
    ['a stranger posing in the envelope', { envelopeFrom: STRANGER, from: SERVICE }],
  ])('refuses a poll from %s', async (_who, sender) => {
    await expect(
      sendRaw(agent.port, { ...sender, to: AGENT, ...poll(newPollToken()) }),
    ).rejects.toMatchObject({
      responseCode: 550,
      response: expect.stringContaining('presence service only'),
    });
  });

  it('sends its reply to the service address, never to the Reply-To it was given', async () => {
    const token = newPollToken();
    await sendRaw(agent.port, {
      envelopeFrom: SERVICE,
      to: AGENT,
      replyTo: STRANGER,
      ...poll(token),
    });
    // The service never sent this token, so it refuses the reply and keeps a record of it:
    // proof that the reply reached the service, from the meter's address.
    const stored = await waitFor(
      'the reply at the service',
      () => rejects('unknown-token').find((r) => r.token === token),
      10_000,
    );
    expect(stored.mailFrom).toBe(AGENT);
  });

  it('answers once per token and at most once per interval', async () => {
    const first = newPollToken();
    const pollId = await sendRaw(limitedAgent.port, {
      envelopeFrom: SERVICE,
      to: LIMITED,
      ...poll(first),
    });
    const reply = await waitFor(
      'the reply at the relay',
      () => relayed.find((m) => m.envelopeFrom === LIMITED),
      10_000,
    );
    expect(reply).toMatchObject({ fromHeader: LIMITED, recipients: [SERVICE], secure: true });
    expect(reply.subject).toBe(`Re: Gridpresence poll ${first}`);
    expect(reply.inReplyTo).toBe(pollId);
    expect(
      parseReplyMail({
        subject: reply.subject,
        pollHeaders: reply.headers.get(POLL_HEADER_KEY) ?? [],
        text: reply.text,
      }),
    ).toEqual({ ok: true, value: { token: first, status: puppetStatus } });

    await expect(
      sendRaw(limitedAgent.port, { envelopeFrom: SERVICE, to: LIMITED, ...poll(first) }),
    ).rejects.toMatchObject({ responseCode: 550, response: expect.stringContaining('already') });
    await expect(
      sendRaw(limitedAgent.port, { envelopeFrom: SERVICE, to: LIMITED, ...poll(newPollToken()) }),
    ).rejects.toMatchObject({ responseCode: 450, response: expect.stringContaining('too often') });
  });

  it('takes mail only for its own address', async () => {
    await expect(
      sendRaw(agent.port, { envelopeFrom: SERVICE, to: PUPPET, ...poll(newPollToken()) }),
    ).rejects.toMatchObject({ code: 'EENVELOPE', responseCode: 550 });
  });
});

describe('transport security', () => {
  it.each([
    ['service', () => poller.port],
    ['agent', () => agent.port],
  ])('the %s listener refuses mail in clear text (530 before MAIL FROM)', async (_w, port) => {
    const plain = createSmtpSender(outgoing(port(), { security: 'none' }), logger);
    try {
      await expect(
        plain.send({ from: SERVICE, to: AGENT, subject: 'hello', text: 'hello' }),
      ).rejects.toMatchObject({ responseCode: 530 });
    } finally {
      plain.close();
    }
  });

  it.each([
    ['another name than its certificate', { servername: 'other.grid.example' }, /altnames/],
    ['a certificate from an unknown CA', { caFile: undefined }, /certificate/],
  ])('a sender refuses a listener with %s', async (_w, overrides, error) => {
    const sender = createSmtpSender(outgoing(poller.port, overrides), logger);
    try {
      await expect(
        sender.send({ from: PUPPET, to: SERVICE, subject: 'hello', text: 'hello' }),
      ).rejects.toThrow(error);
    } finally {
      sender.close();
    }
  });

  it('refuses a message over the size limit (552)', async () => {
    await expect(
      sendRaw(poller.port, {
        envelopeFrom: PUPPET,
        to: SERVICE,
        subject: 'big',
        text: 'x'.repeat(70 * 1024),
      }),
    ).rejects.toMatchObject({ responseCode: 552 });
  });
});

describe('HTTP: POST /api/meters/:id/email-poll, GET /api/meters/:id/email-polls', () => {
  let app: FastifyInstance;

  beforeAll(async () => {
    app = Fastify();
    installErrorHandlers(app);
    registerEmailRoutes(app, { registry: createMeterRegistry({ db }), poller });
    await app.ready();
  });
  afterAll(() => app?.close());

  it('sends a poll now and lists it with its outcome, without its token', async () => {
    const sent = await app.inject({ method: 'POST', url: '/api/meters/mtr-000002/email-poll' });
    expect(sent.statusCode).toBe(202);
    expect(sent.json()).toEqual({ meterId: 'mtr-000002', result: 'sent' });
    expect(sent.headers.location).toBe('/api/meters/mtr-000002/email-polls');

    const list = await app.inject({ url: '/api/meters/mtr-000002/email-polls?limit=100' });
    expect(list.statusCode).toBe(200);
    const { polls } = list.json() as { polls: Array<Record<string, unknown>> };
    expect(polls[0]).toMatchObject({ outcome: 'pending', address: PUPPET });
    expect(new Set(polls.map((p) => p.outcome))).toEqual(
      new Set(['pending', 'answered', 'expired']),
    );
    expect(polls.every((p) => !('token' in p))).toBe(true);
  });

  it('answers 404 for an unknown meter and 422 for a meter without an address', async () => {
    const unknown = await app.inject({ method: 'POST', url: '/api/meters/mtr-999999/email-poll' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('meter-unknown');
    const noAddress = await app.inject({
      method: 'POST',
      url: '/api/meters/mtr-000003/email-poll',
    });
    expect(noAddress.statusCode).toBe(422);
    expect(noAddress.json().error).toMatchObject({
      code: 'meter-no-email',
      message: expect.stringContaining('no e-mail address'),
    });
    expect((await app.inject({ url: '/api/meters/mtr-999999/email-polls' })).statusCode).toBe(404);
  });
});

/** A private CA and one server certificate for MAIL_HOST, made with the openssl CLI. */
async function makePki(
  into: string,
): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const run = promisify(execFile);
  const file = (name: string) => join(into, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', [
    ...['req', '-x509', '-new', ...ec, '-sha256', '-days', '2'],
    ...['-subj', '/CN=Gridpresence e-mail test CA'],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'],
    ...['-keyout', file('ca.key'), '-out', file('ca.pem')],
  ]);
  await run('openssl', [
    ...['req', '-new', ...ec, '-subj', `/CN=${MAIL_HOST}`],
    ...['-keyout', file('mail.key'), '-out', file('mail.csr')],
  ]);
  writeFileSync(
    file('mail.ext'),
    `basicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${MAIL_HOST}\n`,
  );
  await run('openssl', [
    ...['x509', '-req', '-in', file('mail.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key')],
    ...['-set_serial', '0x1a2b3c', '-sha256', '-days', '2', '-extfile', file('mail.ext')],
    ...['-out', file('mail.crt')],
  ]);
  return { caFile: file('ca.pem'), certFile: file('mail.crt'), keyFile: file('mail.key') };
}

/** A logger whose lines the tests can read (STYLE §10: what is rejected must be in the log). */
function capturedLogger(): { logs: Array<Record<string, unknown>>; logger: Logger } {
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logs: lines, logger: createRootLogger({ name: 'test', level: 'debug', destination }) };
}
