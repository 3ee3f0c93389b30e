import { z } from 'zod';
import {
  aclSchema,
  domainSchema,
  logSchema,
  refuseMetersDomainInAcl,
} from '../src/config/common-schemas.js';
import {
  mailAddressSchema,
  smtpListenerSchema,
  smtpOutgoingSchema,
} from '../src/config/email-schemas.js';
import { loadConfig } from '../src/config/load-config.js';
import { meterIdSchema, serviceJid } from '../src/protocol/meter-id.js';
import { TOKEN_PATTERN } from '../src/protocol/meter-status.js';

// STYLE §6: the meter agent's one config schema; defaults and units live here.

// PROTOCOL §2 roles are the contract's (src/protocol/commands.ts); re-exported for agent code.
export { ROLES, type Role } from '../src/protocol/commands.js';

/** The Modbus TCP link to a SunSpec meter (docs/modbus.md); read when meter.driver is modbus. */
const modbusMeterSchema = z
  .object({
    host: z.string().min(1, 'the Modbus host must not be empty'),
    port: z.number().int().min(1).max(65535).default(502),
    /** The Modbus unit identifier (slave id) of the meter behind the address. */
    unitId: z.number().int().min(0).max(255).default(1),
    /** Where the "SunS" marker is; left out, 40000, 0 and 50000 are tried. */
    baseAddress: z.number().int().min(0).max(65533).optional(),
    pollIntervalMs: z.number().int().min(100).max(3_600_000).default(1_000),
    /** Bound on the connect and on each request. */
    timeoutMs: z.number().int().min(50).max(60_000).default(1_000),
    /** Cap of the reconnect backoff after a lost link (its base is pollIntervalMs). */
    backoffMaxMs: z.number().int().min(100).max(3_600_000).default(30_000),
  })
  .strict();

export const agentConfigSchema = z
  .object({
    meterId: meterIdSchema,
    /** The XMPP domain, e.g. grid.example (compared case-insensitively, so kept lower case). */
    domain: domainSchema,
    /** The IED kind announced in presence (PROTOCOL §1 kind). */
    kind: z
      .string()
      .regex(TOKEN_PATTERN, 'kind must be a lower-case token, e.g. revenue-meter')
      .default('revenue-meter'),
    xmpp: z
      .object({
        host: z.string().min(1),
        /**
         * The server's direct-TLS (XEP-0368) client port. Meters use direct TLS only: it is
         * the transport where xmpp.js lets us verify against a private CA per connection.
         */
        port: z.coerce.number().int().min(1).max(65535).default(5223),
        password: z.string().min(1, 'the XMPP password must not be empty'),
        /** PEM file of a private CA (else the system's CAs); the certificate must name `domain`. */
        caFile: z.string().optional(),
      })
      .strict(),
    /** The presence service's JID; defaults to presence.<domain> (PROTOCOL "Names"). */
    service: z.string().optional(),
    /** PROTOCOL §2: who may subscribe and command; the service is always at least operator. */
    acl: aclSchema,
    /** Where the agent keeps its presence seq and control socket; must be writable. */
    dataDir: z.string().min(1),
    reconnect: z
      .object({
        backoffBaseMs: z.number().int().min(50).default(1_000),
        backoffMaxMs: z.number().int().min(100).default(60_000),
        /**
         * When the server ends a session that held (a restart), the first retry waits a random
         * 0..spreadMs, as RFC 6120 §3.3 recommends (0-60 s), so that a fleet does not come back in
         * one second (src/xmpp/backoff.ts; BENCHMARKS.md, reconnect storm). 0: no spread.
         */
        spreadMs: z.number().int().min(0).max(600_000).default(60_000),
      })
      .strict()
      .refine((r) => r.backoffMaxMs >= r.backoffBaseMs, {
        message: 'backoffMaxMs must be at least backoffBaseMs',
        path: ['backoffMaxMs'],
      })
      .default({ backoffBaseMs: 1_000, backoffMaxMs: 60_000, spreadMs: 60_000 }),
    meter: z
      .object({
        /** `modbus`: a SunSpec meter over Modbus TCP (docs/modbus.md), set up in `modbus`. */
        driver: z.enum(['simulated', 'modbus']).default('simulated'),
        /** Seed of the simulated meter's random source: the same seed replays the same run. */
        seed: z.number().int().default(1),
        /** Average random power-quality events per hour (0: none). */
        eventRatePerHour: z.number().min(0).max(3600).default(2),
        nominalVoltageV: z.number().positive().default(230),
        /**
         * The customer's local time, in minutes east of UTC: the simulated day (load peaks
         * around 07:30 and 19:00, PV around noon) follows it. Default 0 (UTC).
         */
        utcOffsetMinutes: z.number().int().min(-1440).max(1440).default(0),
        /** Rooftop PV peak, kW; 0 means none; left out, drawn from the seed (1–3.5 kW). */
        pvPeakKw: z.number().min(0).max(1000).optional(),
        modbus: modbusMeterSchema.optional(),
      })
      .strict()
      .superRefine((meter, ctx) => {
        if (meter.driver === 'modbus' && meter.modbus === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['modbus'],
            message: `required when meter.driver is 'modbus', e.g. { "host": "192.0.2.10" }`,
          });
        }
        if (meter.driver !== 'modbus' && meter.modbus !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['driver'],
            message: `meter.modbus is set, so meter.driver must be 'modbus' (it is '${meter.driver}')`,
          });
        }
      })
      .default({
        driver: 'simulated',
        seed: 1,
        eventRatePerHour: 2,
        nominalVoltageV: 230,
        utcOffsetMinutes: 0,
      }),
    /** PROTOCOL §6 data: how often a reading goes out and how much may wait on disk. */
    telemetry: z
      .object({
        /**
         * Seconds between readings until an operator sets another (PROTOCOL §4 reporting allows
         * 5-86400 by command; the config also takes 1-4 s, for tests).
         */
        intervalS: z.number().int().min(1).max(86_400).default(60),
        /** Bound on unacknowledged data in the outbox; when full the oldest readings go first. */
        outboxMaxBytes: z
          .number()
          .int()
          .min(16 * 1024)
          .max(1024 * 1024 * 1024)
          .default(4 * 1024 * 1024),
      })
      .strict()
      .default({ intervalS: 60, outboxMaxBytes: 4 * 1024 * 1024 }),
    /** The meter's own liveness schedule (docs/liveness.md). */
    presence: z
      .object({
        /**
         * Seconds between heartbeats: the current presence again, directed to the service only
         * (operators' clients are not woken), so the service need not ping a healthy meter.
         * 0 turns it off. Keep it below the service's liveness.quietS.
         */
        heartbeatS: z.number().min(0).max(86_400).default(5),
      })
      .strict()
      .default({ heartbeatS: 5 }),
    /**
     * The agent's own dead-link detection: an XEP-0198 ack request after `intervalS` without
     * traffic; no answer within `timeoutS` drops the link and reconnects with backoff.
     */
    keepAlive: z
      .object({
        intervalS: z.number().min(1).max(3_600).default(15),
        timeoutS: z.number().min(1).max(3_600).default(10),
      })
      .strict()
      .default({ intervalS: 15, timeoutS: 10 }),
    /**
     * The optional e-mail channel (docs/liveness.md) for meters the service polls by e-mail:
     * an SMTP listener for polls, and a way to send the reply.
     */
    email: z
      .object({
        /** The meter's own address, as registered with the service. */
        address: mailAddressSchema,
        /** The service's address: the only sender whose polls are answered, and the reply's recipient. */
        serviceAddress: mailAddressSchema,
        incoming: smtpListenerSchema,
        outgoing: smtpOutgoingSchema,
      })
      .strict()
      .optional(),
    log: logSchema,
  })
  .strict()
  .superRefine((config, ctx) =>
    refuseMetersDomainInAcl(config, ctx, 'every meter see every other'),
  );

export type AgentConfig = z.infer<typeof agentConfigSchema>;

export const AGENT_ENV_KEYS: Record<string, string> = {
  GP_METER_ID: 'meterId',
  GP_DOMAIN: 'domain',
  GP_XMPP_HOST: 'xmpp.host',
  GP_XMPP_PORT: 'xmpp.port',
  GP_XMPP_PASSWORD: 'xmpp.password',
  GP_XMPP_CA_FILE: 'xmpp.caFile',
  GP_DATA_DIR: 'dataDir',
  LOG_LEVEL: 'log.level',
  LOG_FORMAT: 'log.format',
};

export function loadAgentConfig(file: string | undefined, env = process.env): AgentConfig {
  return loadConfig(agentConfigSchema, {
    file,
    env,
    envKeys: AGENT_ENV_KEYS,
    secretFileKeys: ['xmpp.password'],
  });
}

export function serviceJidOf(config: AgentConfig): string {
  return config.service ?? serviceJid(config.domain);
}
