import { z } from 'zod';

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
    op: z.literal('activity'),
    /** PROTOCOL §1 active reasons: command, dr-event, download; null ends the activity. */
    code: z.enum(['command', 'dr-event', 'download']).nullable(),
    text: z.string().max(200).optional(),
  }),
]);

export type ControlRequest = z.infer<typeof controlRequestSchema>;

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: string };
