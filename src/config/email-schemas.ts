import { z } from 'zod';

// E-mail polling (docs/liveness.md): the SMTP settings the service and the agent share. Both ends
// send with nodemailer and receive with smtp-server; neither relays for anybody else.

/** An e-mail address as SMTP sees it: local@domain, no display name. Compared in lower case. */
export const mailAddressSchema = z
  .string()
  .regex(/^[^\s@<>]+@[^\s@<>]+$/, 'must be an e-mail address like poll@grid.example')
  .transform((a) => a.toLowerCase());

/** Where outgoing mail goes: a relay, or the other end's listener directly. */
export const smtpOutgoingSchema = z
  .object({
    host: z.string().min(1),
    port: z.coerce.number().int().min(1).max(65535).default(25),
    /**
     * `starttls` (default) upgrades and refuses to go on without TLS; `tls` is implicit TLS
     * (port 465); `none` sends in clear text, for a private network only.
     */
    security: z.enum(['starttls', 'tls', 'none']).default('starttls'),
    /** PEM file of a private CA for the relay's certificate (else the system's CAs). */
    caFile: z.string().optional(),
    /** The name the relay's certificate must carry; defaults to `host`. */
    servername: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    /** Give up on one message after this long (connect, TLS, and the SMTP dialogue together). */
    timeoutMs: z.number().int().min(100).max(600_000).default(15_000),
  })
  .strict()
  .refine((o) => (o.user === undefined) === (o.password === undefined), {
    message: 'user and password go together',
    path: ['password'],
  });

/** The SMTP listener that receives mail (the service: replies; the agent: polls). */
export const smtpListenerSchema = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: z.coerce.number().int().min(0).max(65535).default(2525),
    /** PEM certificate and key: with both, the listener offers STARTTLS and requires it. */
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    /** Largest message accepted; polls and replies are a few KB. */
    maxBytes: z
      .number()
      .int()
      .min(1024)
      .max(10 * 1024 * 1024)
      .default(64 * 1024),
  })
  .strict()
  .refine((l) => (l.certFile === undefined) === (l.keyFile === undefined), {
    message: 'certFile and keyFile go together',
    path: ['keyFile'],
  })
  // Secure by default: poll tokens and meter states cross the network only inside TLS.
  .refine((l) => l.certFile !== undefined || isLoopback(l.host), {
    message: 'a listener beyond loopback needs TLS: set certFile and keyFile (PEM)',
    path: ['certFile'],
  });

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export type MailAddress = z.infer<typeof mailAddressSchema>;
export type SmtpOutgoing = z.infer<typeof smtpOutgoingSchema>;
export type SmtpListener = z.infer<typeof smtpListenerSchema>;
