import { COMMAND_NAMES } from '../../src/protocol/commands.js';
import { FORM_LIMITS } from '../../src/protocol/data-forms.js';
import { METER_ID_PATTERN } from '../../src/protocol/index.js';
import { USERNAME_PATTERN } from '../auth/user-store.js';

// JSON-schema pieces shared by the routes, with the words a 400 uses to explain each pattern
// (Ajv would otherwise quote the regular expression at the client).

/** PROTOCOL "Names": meter ids, and group names which follow the same pattern. */
export const meterIdSchema = { type: 'string', pattern: METER_ID_PATTERN.source } as const;

/** RFC 3339 date-time; handlers also check it is a real instant (no 13th month). */
export const dateTimeSchema = {
  type: 'string',
  pattern: '^\\d{4}-\\d{2}-\\d{2}[Tt]\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?([Zz]|[+-]\\d{2}:\\d{2})$',
} as const;

export const PATTERN_DESCRIPTIONS: Record<string, string> = {
  [meterIdSchema.pattern]: 'must be lower-case letters, digits and "-", 1-63 characters',
  [dateTimeSchema.pattern]: 'must be an RFC 3339 date-time like 2026-11-27T14:00:00Z',
  [USERNAME_PATTERN.source]:
    'must start with a letter or digit, then letters, digits, ".", "_", "@" or "-", up to 64',
};

/** A PROTOCOL §4 command and its form values, as the command routes (one meter, a group) take it. */
export const commandBodySchema = {
  type: 'object',
  required: ['command'],
  additionalProperties: false,
  properties: {
    command: { type: 'string', enum: [...COMMAND_NAMES] },
    // PROTOCOL §4 form values, as a submitted form carries them: {field: [values]}.
    args: {
      type: 'object',
      default: {},
      maxProperties: FORM_LIMITS.fields,
      additionalProperties: {
        type: 'array',
        maxItems: FORM_LIMITS.valuesPerField,
        items: { type: 'string', maxLength: FORM_LIMITS.valueChars },
      },
    },
  },
} as const;
