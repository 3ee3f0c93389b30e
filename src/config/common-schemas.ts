import { z } from 'zod';
import { ROLES } from '../protocol/commands.js';

// Config pieces both programs share, so the agent and the service read them the same way.

/** PROTOCOL §2: a bare JID (alice@grid.example) or a whole domain (ops.grid.example), a role. */
export const aclEntrySchema = z
  .object({
    jid: z
      .string()
      .min(1)
      .refine((v) => !v.includes('/'), 'ACL entries are bare JIDs or domains, without a resource'),
    role: z.enum(ROLES),
  })
  .strict();

export const aclSchema = z.array(aclEntrySchema).default([]);

export const logSchema = z
  .object({
    level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
    /** `json` for journald and programs; `pretty` for a person at a terminal (src/log-pretty.ts). */
    format: z.enum(['json', 'pretty']).default('json'),
  })
  .strict()
  .default({ level: 'info', format: 'json' });

/** An XMPP domain; JIDs compare case-insensitively, so it is kept lower case. */
export const domainSchema = z
  .string()
  .min(1)
  .transform((d) => d.toLowerCase());

/**
 * PROTOCOL "Names": meters never see or command each other. An ACL entry for the meters' own
 * domain would give every meter a role; `consequence` says what it would allow.
 */
export function refuseMetersDomainInAcl(
  config: { domain: string; acl: Array<{ jid: string }> },
  ctx: z.RefinementCtx,
  consequence: string,
): void {
  config.acl.forEach((entry, index) => {
    if (entry.jid.toLowerCase() === config.domain) {
      ctx.addIssue({
        code: 'custom',
        path: ['acl', index, 'jid'],
        message: `the meters' own domain would let ${consequence}; list operators' JIDs (alice@${config.domain}) or their own domain instead`,
      });
    }
  });
}
