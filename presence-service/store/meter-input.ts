import { z } from 'zod';
import { fail, meterIdSchema, ok, type Parsed } from '../../src/protocol/index.js';
import { TOKEN_PATTERN } from '../../src/protocol/meter-status.js';

// What may be registered as a meter. Shared by the registry and the `meters` CLI, so a bad row
// is rejected with the same words whether it comes from `meters add` or a CSV import.

/** PROTOCOL §1 kind: a lower-case token like `revenue-meter`, `relay`, `gateway`. */
const KIND_PATTERN = TOKEN_PATTERN;

const GROUP_HINT = 'group names are lower-case letters, digits and "-", 1-63 characters';

export const meterInputSchema = z.object({
  id: meterIdSchema,
  domain: z.string().min(1, 'the XMPP domain is required'),
  kind: z
    .string()
    .regex(KIND_PATTERN, 'kind must be a lower-case token like revenue-meter')
    .optional(),
  email: z.email('email must be an e-mail address').optional(),
  // PROTOCOL "Names": a group is addressed as <group>@presence.<domain>, same pattern as ids.
  groups: z.array(meterIdSchema).max(64, 'at most 64 groups per meter').optional(),
});

export interface MeterInput {
  id: string;
  domain: string;
  kind?: string;
  email?: string;
  groups?: string[];
}

/** Validates a meter before it is stored; the error names the field (e.g. `groups.1: ...`). */
export function validateMeterInput(input: MeterInput): Parsed<MeterInput> {
  const parsed = meterInputSchema.safeParse(input);
  if (parsed.success) {
    const value: MeterInput = { id: parsed.data.id, domain: parsed.data.domain };
    if (parsed.data.kind !== undefined) value.kind = parsed.data.kind;
    if (parsed.data.email !== undefined) value.email = parsed.data.email;
    // Duplicates would only collide on the (meter, group) key; drop them quietly.
    if (parsed.data.groups !== undefined) value.groups = [...new Set(parsed.data.groups)];
    return ok(value);
  }
  const issue = parsed.error.issues[0];
  const field = issue?.path.join('.') || 'meter';
  const message = field.startsWith('groups.') ? GROUP_HINT : (issue?.message ?? 'invalid');
  return fail(`${field}: ${message}`);
}

/** Validates a set of group names; duplicates are dropped. */
export function validateGroups(groups: string[]): Parsed<string[]> {
  const parsed = meterInputSchema.shape.groups.safeParse(groups);
  if (parsed.success) return ok([...new Set(parsed.data)]);
  const issue = parsed.error.issues[0];
  return fail(`groups${issue?.path.length ? `.${issue.path.join('.')}` : ''}: ${GROUP_HINT}`);
}
