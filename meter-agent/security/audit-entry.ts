// PROTOCOL §2: every command the agent carries out or refuses goes to an audit trail: who
// (full JID), what, arguments, outcome, time. The agent keeps it in a local file and reports
// each entry to the presence service through the data outbox.

export type AuditOutcome = 'ok' | 'refused' | 'failed';

export interface AuditEntry {
  /** RFC 3339 UTC with milliseconds. */
  ts: string;
  /** Full JID of the sender. */
  from: string;
  via: 'adhoc' | 'chat' | 'iq';
  /** Command name (read, relay, …) or what was asked (e.g. 'unknown'). */
  command: string;
  /** The arguments as received (strings), secrets never included. */
  args: Record<string, string[]>;
  outcome: AuditOutcome;
  /** The stanza error condition of a refusal or failure. */
  condition?: string;
  /** One line for people: what happened. */
  detail: string;
}

/** Where audit entries go (the local file and the service); never throws. */
export interface AuditSink {
  record(entry: AuditEntry): void;
}
