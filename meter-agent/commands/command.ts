import type { CommandName, RawArgs, Role } from '../../src/protocol/commands.js';
import type { DataFormFieldType } from '../../src/protocol/data-forms.js';

// PROTOCOL §4–§5: one command, two front doors. A command is defined once (its form, its role,
// how it parses its arguments and what it does); the XEP-0050 ad-hoc front door and the chat
// front door both hand it plain arguments and render its plain result. No XML here.

// The vocabulary (names, roles, raw values) is the contract's, shared with the presence service.
export {
  CHAT_ONLY_COMMAND_NAMES,
  COMMAND_NAMES,
  type CommandName,
  type RawArgs,
} from '../../src/protocol/commands.js';

/** The two front doors (PROTOCOL §4 ad-hoc, §5 chat). */
/** `iq`: the register query, a plain IQ get for programs (answered by the `read` command). */
export type CommandDoor = 'adhoc' | 'chat' | 'iq';

/** XEP-0004 §3.3 field types we use (defined with the data-forms codec). */
export type FieldType = DataFormFieldType;

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

export interface CommandResult {
  /** Title of the result form. */
  title: string;
  fields: ResultField[];
  /** The same result for a chat window: short plain text. */
  text: string;
  /** The registers as values, for programs (the register query's answer). */
  registers?: ReadonlyArray<{ id: string; value: string; unit: string }>;
}

/** Who asks, through which door. */
export interface CommandContext {
  /** Full JID of the sender. */
  from: string;
  role: Role;
  via: CommandDoor;
  now: Date;
}

/** Failures map to stanza errors in the ad-hoc door and to one line of text in chat. */
export type CommandErrorCondition =
  | 'bad-request' // modify: a field value is wrong (the text names the field)
  | 'not-allowed' // cancel: the current state forbids it (e.g. relay close during lockout)
  | 'forbidden' // auth: outside the ACL or above the sender's role
  | 'feature-not-implemented' // cancel: this meter has no such control
  | 'resource-constraint' // wait: rate limit
  | 'item-not-found' // cancel: unknown command
  | 'not-acceptable' // modify: the request itself is unacceptable (e.g. oversized)
  | 'internal-server-error'; // cancel: the command failed unexpectedly

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
  /**
   * With marksActive: whether this call changes anything on the meter (default true), so that
   * e.g. closing a closed relay does not flash `active` to every subscriber.
   */
  changesMeter?(args: Args): boolean;
  /** Whether this meter has the control at all (else feature-not-implemented). Default true. */
  supported?: boolean;
  /** The doors it is offered through. Default: both. */
  doors?: readonly CommandDoor[];
}
