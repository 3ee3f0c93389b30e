import type { Component } from '@xmpp/component';
import xml from '@xmpp/xml';
import { buildCommandRequest, parseCommandResponse } from '../../src/protocol/adhoc.js';
import type { FormValues } from '../../src/protocol/data-forms.js';
import { meterFullJid } from '../../src/protocol/meter-id.js';
import { CMD_NODE_PREFIX, NS_COMMANDS } from '../../src/protocol/namespaces.js';

// The service runs a meter's ad-hoc command (PROTOCOL §4) in one round trip: the form is
// submitted in the first request (`action='complete'`), which every single-stage command of the
// agent accepts. The outcome is typed; no XML leaves this file.

export type CommandOutcome =
  | { kind: 'ok'; fields: Record<string, string[]>; note: string }
  /** The meter answered with a stanza error (forbidden, bad-request, not-allowed, …). */
  | { kind: 'error'; condition: string; text: string }
  /** The server answered for the meter: no session. */
  | { kind: 'offline'; condition: string }
  | { kind: 'timeout' };

export type CommandRunner = (
  meterId: string,
  node: string,
  form: FormValues,
  timeoutMs: number,
) => Promise<CommandOutcome>;

const OFFLINE = new Set(['service-unavailable', 'recipient-unavailable', 'item-not-found']);

/**
 * Told when a command to a meter has its outcome, with the command's name (the node without
 * `urn:gridpresence:cmd:`) and the round trip in seconds (metrics).
 */
export type CommandFinished = (
  command: string,
  outcome: CommandOutcome['kind'],
  seconds: number,
) => void;

export function createCommandClient(deps: {
  xmpp: Component;
  componentJid: string;
  domain: string;
  onFinished?: CommandFinished;
}): CommandRunner {
  const { xmpp, componentJid, domain, onFinished } = deps;
  const run = runOnce(xmpp, componentJid, domain);
  if (!onFinished) return run;
  return async (meterId, node, form, timeoutMs) => {
    const started = performance.now();
    const outcome = await run(meterId, node, form, timeoutMs);
    const command = node.startsWith(CMD_NODE_PREFIX) ? node.slice(CMD_NODE_PREFIX.length) : node;
    onFinished(command, outcome.kind, (performance.now() - started) / 1000);
    return outcome;
  };
}

function runOnce(xmpp: Component, componentJid: string, domain: string): CommandRunner {
  return async (meterId, node, form, timeoutMs) => {
    const iq = xml(
      'iq',
      { type: 'set', from: componentJid, to: meterFullJid(meterId, domain) },
      buildCommandRequest({ node, action: 'complete', form }),
    );
    try {
      const reply = await xmpp.iqCaller.request(iq, timeoutMs);
      const parsed = parseCommandResponse(reply.getChild('command', NS_COMMANDS));
      if (!parsed.ok) return { kind: 'error', condition: 'bad-response', text: parsed.error };
      const response = parsed.value;
      // A one-shot submission completes a single-stage command (docs/protocol.md); a form stage
      // or a cancellation means the meter did not carry it out.
      if (response.status !== 'completed') {
        return {
          kind: 'error',
          condition: 'bad-response',
          text: `the meter answered status '${response.status}', not 'completed'`,
        };
      }
      const fields: Record<string, string[]> = {};
      for (const field of response.form?.fields ?? []) {
        if (!field.var) continue; // XEP-0004 `fixed` fields carry text, not values
        const value = field.value;
        fields[field.var] = value === undefined ? [] : Array.isArray(value) ? value : [value];
      }
      return { kind: 'ok', fields, note: response.notes.map((n) => n.text).join(' ') };
    } catch (error) {
      const e = error as { name?: string; condition?: string; text?: string; message?: string };
      if (e.name === 'TimeoutError') return { kind: 'timeout' };
      if (e.name === 'StanzaError') {
        // An item-not-found from the meter itself would be an unknown node; from the server it
        // means no session. Our agent knows every node we send, so treat it as offline.
        if (OFFLINE.has(e.condition ?? ''))
          return { kind: 'offline', condition: e.condition ?? '' };
        return { kind: 'error', condition: e.condition ?? 'unknown', text: e.text ?? '' };
      }
      return { kind: 'error', condition: 'internal', text: e.message ?? String(error) };
    }
  };
}
