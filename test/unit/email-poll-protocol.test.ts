import { describe, expect, it } from 'vitest';
import {
  buildPollMail,
  buildReplyMail,
  MAX_BODY_CHARS,
  newPollToken,
  POLL_HEADER,
  type PollMailContent,
  type PollMailFields,
  parsePollMail,
  parseReplyBody,
  parseReplyMail,
  readPollToken,
} from '../../src/protocol/email-poll.js';
import type { MeterStatus } from '../../src/protocol/index.js';

// The e-mail poll format (src/protocol/email-poll.ts): what the service sends, what the meter
// answers, and every way a received mail can fail to be one of them.

const TOKEN = '0123456789abcdef0123456789abcdef';
const OTHER = 'fedcba9876543210fedcba9876543210';
const NS = "xmlns='urn:gridpresence:meter:1'";

const restricted: MeterStatus = {
  state: 'restricted',
  seq: 42,
  since: '2026-11-27T14:00:00Z',
  kind: 'revenue-meter',
  reason: { code: 'load-limit', text: 'limit 5 kW & 30 min' },
};

/** How a mail parser hands a received mail to the protocol parsers. */
function received(content: PollMailContent): PollMailFields {
  return {
    subject: content.subject,
    pollHeaders: Object.values(content.headers),
    text: content.text,
  };
}

describe('poll tokens', () => {
  it('are 128 random bits in hex, different every time', () => {
    const tokens = new Set(Array.from({ length: 1000 }, newPollToken));
    expect(tokens.size).toBe(1000);
    for (const token of tokens) expect(token).toMatch(/^[0-9a-f]{32}$/);
  });

  it('cannot be built into a mail unless well-formed', () => {
    expect(() => buildPollMail('not-a-token')).toThrow(TypeError);
    expect(() => buildReplyMail(TOKEN.toUpperCase(), restricted)).toThrow(TypeError);
  });
});

describe('the poll (service → meter)', () => {
  it('carries the token in Subject and header, and the §3 status query as its body', () => {
    const poll = buildPollMail(TOKEN);
    expect(poll.subject).toBe(`Gridpresence poll ${TOKEN}`);
    expect(poll.headers).toEqual({ [POLL_HEADER]: TOKEN });
    expect(poll.text.trim()).toBe('<status xmlns="urn:gridpresence:meter:1"/>');
    expect(parsePollMail(received(poll))).toEqual({ ok: true, value: { token: TOKEN } });
  });

  it.each([
    ['a body that is not the status query', `<meter ${NS}/>`, /is not <status/],
    ['a status query with content', `<status ${NS}><meter/></status>`, /must be empty/],
    ['a status query in another namespace', "<status xmlns='urn:other'/>", /is not <status/],
    ['an empty body', '  \n', /empty/],
  ])('refuses %s', (_name, text, error) => {
    const parsed = parsePollMail({ ...received(buildPollMail(TOKEN)), text });
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toMatch(error);
  });
});

describe('the reply (meter → service)', () => {
  it('answers with the same token and the §3 status answer, read back unchanged', () => {
    const reply = buildReplyMail(TOKEN, restricted);
    expect(reply.subject).toBe(`Re: Gridpresence poll ${TOKEN}`);
    expect(reply.headers).toEqual({ [POLL_HEADER]: TOKEN });
    expect(reply.text).toContain('<status xmlns="urn:gridpresence:meter:1"><meter state=');
    expect(parseReplyMail(received(reply))).toEqual({
      ok: true,
      value: { token: TOKEN, status: restricted },
    });
  });

  it('reads a body with the white space a mail client adds around it', () => {
    const body = `\r\n  ${buildReplyMail(TOKEN, restricted).text.trim()}\r\n\r\n`;
    expect(parseReplyBody(body)).toEqual({ ok: true, value: restricted });
  });

  it.each([
    ['plain text', 'I am fine, thanks', /not well-formed XML|not one complete XML element/],
    ['an unterminated element', `<status ${NS}><meter state='available'`, /not one complete/],
    ['mismatched tags', `<status ${NS}></meter>`, /not well-formed XML/],
    ['an unknown entity', `<status ${NS}>&xxe;</status>`, /not well-formed XML/],
    ['a quoted poll below the answer', `<status ${NS}/>\n> <status ${NS}/>`, /content after/],
    ['a second element', `<status ${NS}/><status ${NS}/>`, /content after/],
    ['a signature below the answer', `<status ${NS}/>\n-- \nsent from my meter`, /content after/],
    ['text before the answer', `Hello <status ${NS}/>`, /not well-formed XML/],
    ['a status without <meter/>', `<status ${NS}/>`, /without <meter\/>/],
    [
      'an unknown state',
      `<status ${NS}><meter state='sleepy' seq='1' since='2026-11-27T14:00:00Z' kind='relay'/></status>`,
      /meter\/@state/,
    ],
    [
      'a meter in another namespace',
      `<status ${NS}><meter xmlns='urn:x' state='available' seq='1' since='2026-11-27T14:00:00Z' kind='relay'/></status>`,
      /expected <meter/,
    ],
    ['a body over the limit', `<status ${NS}>${' '.repeat(MAX_BODY_CHARS)}</status>`, /over/],
  ])('refuses %s with a precise error', (_name, text, error) => {
    const parsed = parseReplyBody(text);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toMatch(error);
  });

  it('never throws, whatever the body', () => {
    const bodies = [
      '<',
      '<<<>>>',
      '<?xml version="1.0"?>',
      '<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
    ];
    for (const text of bodies) expect(parseReplyBody(text).ok).toBe(false);
  });
});

describe('finding the token', () => {
  const subject = `Re: Gridpresence poll ${TOKEN}`;

  it('prefers the header, and reads it case-insensitively', () => {
    expect(
      readPollToken({ subject: 'Re: status', pollHeaders: [` ${TOKEN.toUpperCase()} `] }),
    ).toEqual({ ok: true, value: TOKEN });
  });

  it('falls back to the Subject when a relay stripped the header', () => {
    expect(readPollToken({ subject: `[EXT] ${subject}`, pollHeaders: [] })).toEqual({
      ok: true,
      value: TOKEN,
    });
  });

  it.each([
    ['no token anywhere', { subject: 'Re: hello', pollHeaders: [] }, /no X-Gridpresence-Poll/],
    ['a repeated header', { subject, pollHeaders: [TOKEN, TOKEN] }, /more than one/],
    ['a header that is not a token', { subject, pollHeaders: ['12345'] }, /32 hex digits/],
    ['a token one digit too long', { subject: 'x', pollHeaders: [`${TOKEN}0`] }, /32 hex digits/],
    ['Subject and header disagreeing', { subject, pollHeaders: [OTHER] }, /different polls/],
    [
      'a Subject naming two polls',
      { subject: `${subject} Gridpresence poll ${OTHER}`, pollHeaders: [] },
      /more than one poll/,
    ],
  ])('refuses %s', (_name, fields, error) => {
    const parsed = readPollToken(fields);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.error).toMatch(error);
  });
});
