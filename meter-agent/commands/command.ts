import type { Role } from '../config.js';

// PROTOCOL §4–§5: one command, two front doors. A command is defined once (its form, its role,
// how it parses its arguments and what it does); the XEP-0050 ad-hoc front door and the chat
// front door both hand it plain arguments and render its plain result. No XML here.

export const COMMAND_NAMES = [
  'read',
  'pq',
  'relay',
  'load-limit',
  'maintenance',
  'reporting',
] as const;
export type CommandName = (typeof COMMAND_NAMES)[number];

/** XEP-0004 §3.3 field types we use. */
export type FieldType =
  | 'boolean'
  | 'fixed'
  | 'hidden'
  | 'list-multi'
  | 'list-single'
  | 'text-multi'
  | 'text-single';

/** A field of a command's form (PROTOCOL §4: every field has a type and a label). */
export interface FormFieldSpec {
  var: string;
  type: FieldType;
  label: string;
  required?: boolean;
  /** Default value(s) shown in the form. */
  value?: string | string[];
  options?: Array<{ value: string; label: string }>;
  desc?: string;
}

/** A field of a result form: PROTOCOL §4, the label names the register and its unit. */
export interface ResultField {
  var: string;
  type: FieldType;
  label: string;
  value: string | string[];
}

/** What a front door collected: raw strings per field, as a submitted form would carry them. */
export type RawArgs = Record<string, string[]>;

export interface CommandResult {
  /** Title of the result form. */
  title: string;
  fields: ResultField[];
  /** The same result for a chat window: short plain text. */
  text: string;
}

/** Who asks, through which door. */
export interface CommandContext {
  /** Full JID of the sender. */
  from: string;
  role: Role;
  via: 'adhoc' | 'chat';
  now: Date;
}

/** Failures map to stanza errors in the ad-hoc door and to one line of text in chat. */
export type CommandErrorCondition =
  | 'bad-request' // modify: a field value is wrong (the text names the field)
  | 'not-allowed' // cancel: the current state forbids it (e.g. relay close during lockout)
  | 'forbidden' // auth: outside the ACL or above the sender's role
  | 'feature-not-implemented' // cancel: this meter has no such control
  | 'resource-constraint' // wait: rate limit
  | 'item-not-found'; // cancel: unknown command

export class CommandError extends Error {
  readonly condition: CommandErrorCondition;
  /** The form field at fault, for bad-request. */
  readonly field: string | undefined;

  constructor(condition: CommandErrorCondition, message: string, field?: string) {
    super(message);
    this.name = 'CommandError';
    this.condition = condition;
    this.field = field;
  }
}

export interface CommandDefinition<Args = unknown> {
  name: CommandName;
  /** `urn:gridpresence:cmd:<name>` */
  node: string;
  /** Human name, e.g. 'Read registers'. */
  label: string;
  role: Role;
  /** The form a client fills in (single stage: form, then result). */
  form(): { title: string; instructions: string; fields: FormFieldSpec[] };
  /** Validates raw values; throws CommandError('bad-request', …, field). */
  parse(raw: RawArgs): Args;
  run(args: Args, ctx: CommandContext): Promise<CommandResult> | CommandResult;
  /** Whether running it makes the meter `active`/`command` while it runs (PROTOCOL §1). */
  marksActive?: boolean;
}
