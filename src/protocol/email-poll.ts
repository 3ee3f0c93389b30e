import { randomBytes } from 'node:crypto';
import { type Element, Parser } from '@xmpp/xml';
import type { MeterStatus } from './meter-status.js';
import { NS_METER } from './namespaces.js';
import { fail, ok, type Parsed } from './result.js';
import { buildStatusAnswer, buildStatusQuery, parseStatusAnswer } from './status-query.js';

// E-mail polling (docs/liveness.md), our extension of the status query (PROTOCOL §3) for meters
// reachable only by e-mail. The XML is the §3 payload unchanged; e-mail only carries it.
//
// Poll, service → meter:
//   From: <service address>            To: <meter address>
//   Subject: Gridpresence poll <token>
//   Message-ID: <random id @ the service's mail domain> (never derived from the token)
//   X-Gridpresence-Poll: <token>
//   text/plain body: <status xmlns='urn:gridpresence:meter:1'/>
//
// Reply, meter → service, always to the configured service address (never to a Reply-To: the
// meter must not be a reflector that mails whoever asks):
//   From: <meter address>              To: <service address>
//   Subject: Re: Gridpresence poll <token>
//   In-Reply-To, References: <the poll's Message-ID>
//   X-Gridpresence-Poll: <token>
//   text/plain body: <status xmlns='urn:gridpresence:meter:1'><meter state=… seq=… since=…
//     kind=…>[<reason code=…>text</reason>]</meter></status>  (the §3 answer)
//
// Token: 128 random bits as 32 lower-case hex digits, a fresh one per poll, answered once. Read
// case-insensitively. The header is where it is read from; a relay that strips unknown headers
// still leaves the Subject, so without the header the Subject's token is used. Both present and
// different, or the header repeated, is malformed: we cannot tell which poll is meant.
//
// Body: the text/plain part, leading and trailing white space ignored, is exactly one XML
// element: no quoted poll, no signature, no text around it; at most MAX_BODY_CHARS. Prefixed
// namespaces are not accepted (as in the rest of the contract: the default namespace only).

export const POLL_HEADER = 'X-Gridpresence-Poll';
/** The header's name as mail parsers key it (lower case). */
export const POLL_HEADER_KEY = POLL_HEADER.toLowerCase();
export const POLL_SUBJECT = 'Gridpresence poll';
/** A poll token: 128 bits, hex. */
export const POLL_TOKEN_PATTERN = /^[0-9a-f]{32}$/;
/** A poll or reply body is a few hundred bytes; anything much larger is not one. */
export const MAX_BODY_CHARS = 16 * 1024;

const SUBJECT_TOKEN = /gridpresence poll ([0-9a-f]{32})(?![0-9a-z])/gi;

/** What to put in an e-mail; addresses and Message-IDs are the transport's business. */
export interface PollMailContent {
  subject: string;
  headers: Record<string, string>;
  text: string;
}

/** What the parsers read from a received e-mail, whatever parsed it. */
export interface PollMailFields {
  subject: string;
  /** Every value of the X-Gridpresence-Poll header, in order (none if absent). */
  pollHeaders: readonly string[];
  /** The text/plain body. */
  text: string;
}

/** A fresh poll token: 128 bits from the CSPRNG, so it cannot be guessed or enumerated. */
export function newPollToken(): string {
  return randomBytes(16).toString('hex');
}

export function buildPollMail(token: string): PollMailContent {
  assertToken(token);
  return {
    subject: `${POLL_SUBJECT} ${token}`,
    headers: { [POLL_HEADER]: token },
    text: `${buildStatusQuery().toString()}\n`,
  };
}

export function buildReplyMail(token: string, status: MeterStatus): PollMailContent {
  assertToken(token);
  return {
    subject: `Re: ${POLL_SUBJECT} ${token}`,
    headers: { [POLL_HEADER]: token },
    text: `${buildStatusAnswer(status).toString()}\n`,
  };
}

/** The poll token a poll or a reply names. Never throws. */
export function readPollToken(
  mail: Pick<PollMailFields, 'subject' | 'pollHeaders'>,
): Parsed<string> {
  if (mail.pollHeaders.length > 1) return fail(`more than one ${POLL_HEADER} header`);
  const fromSubject = new Set(
    [...(mail.subject ?? '').matchAll(SUBJECT_TOKEN)].map((m) => (m[1] as string).toLowerCase()),
  );
  if (fromSubject.size > 1) return fail('the Subject names more than one poll');
  const subjectToken = [...fromSubject][0];
  const header = mail.pollHeaders[0];
  if (header === undefined) {
    return subjectToken
      ? ok(subjectToken)
      : fail(`no ${POLL_HEADER} header and no '${POLL_SUBJECT} <token>' in the Subject`);
  }
  const headerToken = header.trim().toLowerCase();
  if (!POLL_TOKEN_PATTERN.test(headerToken)) {
    return fail(`${POLL_HEADER} is not a token of 32 hex digits`);
  }
  if (subjectToken !== undefined && subjectToken !== headerToken) {
    return fail(`the Subject and the ${POLL_HEADER} header name different polls`);
  }
  return ok(headerToken);
}

/** Reads a poll as the meter receives it: its token, and a body that is the §3 query. */
export function parsePollMail(mail: PollMailFields): Parsed<{ token: string }> {
  const token = readPollToken(mail);
  if (!token.ok) return token;
  const body = parseBodyElement(mail.text);
  if (!body.ok) return body;
  const query = body.value;
  if (query.name !== 'status' || query.attrs.xmlns !== NS_METER) {
    return fail(`the body is not <status xmlns='${NS_METER}'/>`);
  }
  if (query.children.length > 0) return fail('the status query must be empty');
  return ok({ token: token.value });
}

/** Reads a reply's body: the §3 answer, i.e. the meter's <meter/> inside <status/>. */
export function parseReplyBody(text: string): Parsed<MeterStatus> {
  const body = parseBodyElement(text);
  if (!body.ok) return body;
  return parseStatusAnswer(body.value);
}

/** Reads a reply as the service receives it: the token it answers and the meter's status. */
export function parseReplyMail(
  mail: PollMailFields,
): Parsed<{ token: string; status: MeterStatus }> {
  const token = readPollToken(mail);
  if (!token.ok) return token;
  const status = parseReplyBody(mail.text);
  if (!status.ok) return status;
  return ok({ token: token.value, status: status.value });
}

/** Exactly one complete XML element with nothing around it. Never throws. */
function parseBodyElement(text: string): Parsed<Element> {
  if (typeof text !== 'string' || text.trim() === '') return fail('the body is empty');
  if (text.length > MAX_BODY_CHARS) return fail(`the body is over ${MAX_BODY_CHARS} characters`);
  const parser = new Parser();
  let root: Element | undefined;
  let ended = false;
  let childrenAtEnd = 0;
  let sentinelSent = false;
  let trailing = false;
  let error: string | undefined;
  parser.on('start', (element: Element) => {
    root = element;
  });
  // @xmpp/xml is a stream parser: children of the root arrive as 'element' events, and so does
  // any element after the root has ended.
  parser.on('element', (element: Element) => {
    if (!ended) root?.append(element);
    else if (!(sentinelSent && element.name === SENTINEL_NAME)) trailing = true;
  });
  parser.on('end', (element: Element) => {
    ended = true;
    childrenAtEnd = element.children.length;
  });
  parser.on('error', (e: Error) => {
    error ??= e.message;
  });
  try {
    parser.write(text.trim());
    // ltx holds text back until the next '<': the sentinel flushes text after the root, which
    // then lands in the root and shows as an extra child.
    sentinelSent = true;
    parser.write(SENTINEL);
    parser.end('');
  } catch (e) {
    // ltx throws on some input (an unknown entity) instead of emitting 'error'.
    error ??= (e as Error).message;
  }
  if (error) return fail(`the body is not well-formed XML: ${error}`);
  if (!root || !ended) return fail('the body is not one complete XML element');
  if (trailing || root.children.length !== childrenAtEnd) {
    return fail('the body has content after its XML element');
  }
  return ok(root);
}

const SENTINEL_NAME = 'gridpresence-end-of-body';
const SENTINEL = `<${SENTINEL_NAME}/>`;

function assertToken(token: string): void {
  if (!POLL_TOKEN_PATTERN.test(token)) {
    throw new TypeError('a poll token is 32 lower-case hex digits (newPollToken())');
  }
}
