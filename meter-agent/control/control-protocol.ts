import { z } from 'zod';
import { LOG_LEVELS } from '../../src/log-level.js';

// The agent's local control socket: one JSON request per line, one JSON answer per line. It is
// how `meter-agent status` reads the running agent, and how tests and technicians drive the
// simulated meter. Only the agent's own user may open it (file mode 0600).

export const CONTROL_SOCKET_NAME = 'agent.sock';

export const controlRequestSchema = z.discriminatedUnion('op', [
  z.object({ op: z.literal('status') }),
  z.object({ op: z.literal('inject'), name: z.string() }),
  z.object({
    op: z.literal('maintenance'),
    enable: z.boolean(),
    note: z.string().max(200).optional(),
  }),
  z.object({
    op: z.literal('log-level'),
    level: z.enum(LOG_LEVELS),
    /** Back to the configured level after this long; 0 keeps it (default 60, as the command). */
    minutes: z.number().int().min(0).max(10_080).optional(),
  }),
  z.object({
    op: z.literal('activity'),
    /** PROTOCOL §1 active reasons: command, dr-event, download; null ends the activity. */
    code: z.enum(['command', 'dr-event', 'download']).nullable(),
    text: z.string().max(200).optional(),
  }),
]);

export type ControlRequest = z.infer<typeof controlRequestSchema>;

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string };
