import { isIP } from 'node:net';
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
import { METER_ID_PATTERN } from '../src/protocol/index.js';
import { serviceJid } from '../src/protocol/meter-id.js';
import { cronProblem } from './polling/cron.js';

// STYLE §6: the presence service's one config schema; units in the key names.

const backoffSchema = z.object({
  backoffBaseMs: z.number().int().min(10).default(500),
  backoffMaxMs: z.number().int().min(100).default(30_000),
});

const GROUP_DEFAULTS = {
  concurrency: 64,
  timeoutMs: 10_000,
  maxRunningJobs: 8,
  retainJobs: 1000,
};

/** A meter's demand-response priority when the rule names none: lower is shed first. */
export const DEFAULT_DR_PRIORITY = 100;

/** One demand-response rule (docs/demand-response.md): a group's import limit and how to hold it. */
const demandResponseRuleSchema = z
  .object({
    /** The group (PROTOCOL §7) whose summed import is limited. */
    group: z.string().regex(METER_ID_PATTERN, 'must be a group name like feeder-1'),
    /** The group's import limit: the sum of the members' `1-0:1.7.0`. */
    limitKw: z.number().positive(),
    /** How long the total must stay over the limit before meters are shed. */
    holdS: z.number().min(0).max(86_400).default(60),
    /** Release needs the total below limit minus this; default 10 % of the limit. */
    releaseMarginKw: z.number().min(0).optional(),
    /** How long the total must stay below limit minus margin before every meter is released. */
    releaseHoldS: z.number().min(0).max(86_400).default(120),
    /** The load limit (PROTOCOL §4 load-limit `limit-kw`) put on a shed meter. */
    shedLimitKw: z.number().positive().max(10_000).default(1),
    /** The load limit's `duration-min`; renewed before it runs out while the event lasts. */
    shedDurationMin: z.number().int().min(1).max(1440).default(60),
    /** meterId → priority; lower is shed first; default 100. */
    priorities: z.record(z.string(), z.number()).default({}),
  })
  .strict();

/** How long a meter may be silent and how hard to try before it is `decoupled`/`no-response`. */
const livenessLimitsSchema = z
  .object({
    /** No sign of life for this long and the meter is pinged (XEP-0199). */
    quietS: z.number().min(1).max(86_400),
    /** One ping's wait for an answer. */
    pingTimeoutMs: z.number().int().min(100).max(600_000),
    /** Unanswered pings in a row that make the meter `decoupled`/`no-response`. */
    tries: z.number().int().min(1).max(20),
  })
  .strict();

/**
 * The defaults meet the target of docs/liveness.md: a meter that dies right after a sign of
 * life is recorded within quietS + 1 s (the sweep) + tries × pingTimeoutMs = 13 s.
 */
export const LIVENESS_DEFAULTS = { quietS: 7, pingTimeoutMs: 2_500, tries: 2 };

const livenessSchema = z
  .object({
    enabled: z.boolean().default(true),
    ...livenessLimitsSchema.shape,
    quietS: livenessLimitsSchema.shape.quietS.default(LIVENESS_DEFAULTS.quietS),
    pingTimeoutMs: livenessLimitsSchema.shape.pingTimeoutMs.default(
      LIVENESS_DEFAULTS.pingTimeoutMs,
    ),
    tries: livenessLimitsSchema.shape.tries.default(LIVENESS_DEFAULTS.tries),
    /** How often the service looks for silent meters. */
    sweepEveryMs: z.number().int().min(100).max(60_000).default(1_000),
    /** Liveness pings in flight at once (STYLE §9: bounded work). */
    concurrency: z.number().int().min(1).max(10_000).default(256),
    /**
     * Per group, for meters on slow links (a cellular modem, a meter behind a satellite link):
     * any key left out keeps the default. A meter in several groups gets the most lenient value
     * of each key.
     */
    groups: z
      .record(
        z.string().regex(METER_ID_PATTERN, 'must be a group name like feeder-1'),
        livenessLimitsSchema.partial(),
      )
      .default({}),
  })
  .strict();

/** One polling schedule (docs/liveness.md): what to ask, whom, and when. */
const pollScheduleSchema = z
  .object({
    /** Names the schedule in logs, the API and metrics. */
    name: z.string().regex(METER_ID_PATTERN, 'must be a name like hourly-status'),
    /** A cron expression (5 or 6 fields, seconds first if 6), evaluated in UTC. */
    cron: z
      .string()
      .min(1)
      .superRefine((expression, ctx) => {
        const problem = cronProblem(expression);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      }),
    /**
     * `status`: the status query (PROTOCOL §3); `ping`: XEP-0199 to the full JID;
     * `last-activity`: XEP-0012 on the bare JID of meters that are decoupled; `email`: an
     * e-mail poll to meters with an address (needs the `email` section).
     */
    kind: z.enum(['status', 'ping', 'last-activity', 'email']),
    /** Only this group's members; every registered meter if left out. */
    group: z.string().regex(METER_ID_PATTERN, 'must be a group name like feeder-1').optional(),
    /**
     * Polls are spread over this many seconds after each firing, each meter at the same offset
     * every time; default: 80 % of the time to the next firing, at most one hour.
     */
    spreadS: z.number().min(0).max(86_400).optional(),
    /** Polls of this schedule in flight at once. */
    concurrency: z.number().int().min(1).max(10_000).default(64),
    /** One poll's wait for an answer (e-mail polls use email.replyTimeoutS instead). */
    timeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  })
  .strict();

const alertsSchema = z
  .object({
    /** Bare JIDs that receive alerts as chat messages and may acknowledge them. */
    xmpp: z
      .array(z.string().regex(/^[^/\s]+@[^/\s]+$/, 'must be a bare JID like ops@grid.example'))
      .default([]),
    /** Addresses that also receive alerts by e-mail (needs the `email` section). */
    email: z.array(mailAddressSchema).default([]),
    /** Alert when a meter recovers from `decoupled`. */
    onRecovery: z.boolean().default(true),
    /** More than `changes` state changes within `windowMin` minutes is flapping: one alert. */
    flapping: z
      .object({
        changes: z.number().int().min(2).max(1000).default(5),
        windowMin: z.number().min(1).max(1440).default(10),
      })
      .strict()
      .default({ changes: 5, windowMin: 10 }),
    /** The same alert (meter and kind) is not sent again within this many seconds. */
    repeatAfterS: z.number().min(0).max(86_400).default(300),
    /**
     * At most this many alert messages per recipient per minute; beyond it alerts are kept (in
     * the API) and one summary says how many were held back. A feeder outage is one message
     * storm less.
     */
    maxPerMinute: z.number().int().min(1).max(10_000).default(20),
  })
  .strict();

const emailSchema = z
  .object({
    /** The service's address: polls come from it and replies go to it. */
    address: mailAddressSchema,
    /** How polls (and e-mail alerts) leave. */
    outgoing: smtpOutgoingSchema,
    /** Where replies arrive. */
    incoming: smtpListenerSchema.default({ host: '127.0.0.1', port: 2525, maxBytes: 65_536 }),
    /** A reply later than this is rejected as late. */
    replyTimeoutS: z
      .number()
      .min(1)
      .max(7 * 86_400)
      .default(300),
  })
  .strict();

export const serviceConfigSchema = z
  .object({
    /** The XMPP domain the meters live on, e.g. grid.example. */
    domain: domainSchema,
    component: z
      .object({
        /** Loopback or a private interface only (PROTOCOL §8): the component link is plain text. */
        host: z
          .string()
          .default('127.0.0.1')
          .refine(
            isPrivateOrName,
            'must be a loopback or private address: the component link has no TLS',
          ),
        port: z.coerce.number().int().min(1).max(65535).default(5347),
        /** Defaults to presence.<domain>. */
        jid: z.string().optional(),
        secret: z.string().min(8, 'the component secret must be at least 8 characters'),
        reconnect: backoffSchema.default({ backoffBaseMs: 500, backoffMaxMs: 30_000 }),
      })
      .strict(),
    database: z
      .object({ path: z.string().default('data/presence.db') })
      .strict()
      .default({
        path: 'data/presence.db',
      }),
    http: z
      .object({
        /**
         * Loopback by default. Callers authenticate (docs/http-auth.md), but passwords, session
         * cookies and tokens must not cross a network in clear text: another address needs
         * `tls`, or `trustProxy` with a TLS-terminating proxy in front (checked below).
         */
        host: z.string().default('127.0.0.1'),
        port: z.coerce.number().int().min(0).max(65535).default(8080),
        /** A signed-in session ends after this many minutes without a request... */
        sessionIdleMin: z
          .number()
          .min(1)
          .max(7 * 24 * 60)
          .default(60),
        /** ...and this many hours after sign-in, however busy. */
        sessionMaxHours: z
          .number()
          .min(0.1)
          .max(30 * 24)
          .default(12),
        /** HTTPS: PEM files of the certificate (with its chain) and its private key. */
        tls: z
          .object({ certFile: z.string().min(1), keyFile: z.string().min(1) })
          .strict()
          .optional(),
        /**
         * Behind a reverse proxy: believe its X-Forwarded-For (the client address that sign-in
         * throttling counts) and X-Forwarded-Proto (HTTPS, so cookies are Secure). Only with a
         * proxy that sets them, and a `host` that only the proxy can reach.
         */
        trustProxy: z.boolean().default(false),
      })
      .strict()
      .default({
        host: '127.0.0.1',
        port: 8080,
        sessionIdleMin: 60,
        sessionMaxHours: 12,
        trustProxy: false,
      })
      .superRefine((http, ctx) => {
        if (isLoopback(http.host) || http.tls || http.trustProxy) return;
        ctx.addIssue({
          code: 'custom',
          path: ['host'],
          message:
            'a host other than loopback (127.0.0.1, ::1) needs http.tls (certFile, keyFile), or http.trustProxy: true behind a TLS-terminating proxy: passwords and session cookies must not cross the network in clear text',
        });
      }),
    provisioning: z
      .object({
        /** How meter accounts are created on the XMPP server. */
        kind: z.enum(['prosodyctl', 'none']).default('prosodyctl'),
        /** The Prosody config file prosodyctl acts on. */
        prosodyConfig: z.string().optional(),
      })
      .strict()
      .default({ kind: 'prosodyctl' }),
    recovery: z
      .object({
        /** Status queries in flight at once when (re)connecting (PROTOCOL §3). */
        queryConcurrency: z.number().int().min(1).max(10_000).default(64),
        queryTimeoutMs: z.number().int().min(100).default(10_000),
      })
      .strict()
      .default({ queryConcurrency: 64, queryTimeoutMs: 10_000 }),
    /**
     * PROTOCOL §2 and §7: who may command groups. The service forwards group commands to the
     * meters as itself (an operator to them), so it enforces the sender's role here.
     */
    acl: aclSchema,
    /** PROTOCOL §7 group commands. */
    groups: z
      .object({
        /** Meters asked at once by one group command. */
        concurrency: z.number().int().min(1).max(10_000).default(GROUP_DEFAULTS.concurrency),
        /** How long one meter may take to answer before it counts as timed out. */
        timeoutMs: z.number().int().min(100).max(600_000).default(GROUP_DEFAULTS.timeoutMs),
        /** Group commands running at once; more are refused (STYLE §9: bounded work). */
        maxRunningJobs: z.number().int().min(1).max(1000).default(GROUP_DEFAULTS.maxRunningJobs),
        /** Finished jobs kept with their per-meter results; older ones are deleted. */
        retainJobs: z.number().int().min(1).default(GROUP_DEFAULTS.retainJobs),
      })
      .strict()
      .default(GROUP_DEFAULTS),
    /** Demand response: keep each rule's group under its import limit by shedding meters. */
    demandResponse: z
      .object({
        rules: z
          .array(demandResponseRuleSchema)
          .default([])
          .refine(
            (rules) => new Set(rules.map((r) => r.group)).size === rules.length,
            'one rule per group',
          ),
        /** Seconds between evaluations of every rule. */
        evaluateEveryS: z.number().min(0.1).max(3600).default(5),
      })
      .strict()
      .default({ rules: [], evaluateEveryS: 5 }),
    /** Silent-death detection (docs/liveness.md). */
    liveness: livenessSchema.default({
      enabled: true,
      ...LIVENESS_DEFAULTS,
      sweepEveryMs: 1_000,
      concurrency: 256,
      groups: {},
    }),
    /** Polling schedules (docs/liveness.md). */
    polling: z
      .object({ schedules: z.array(pollScheduleSchema).default([]) })
      .strict()
      .default({ schedules: [] })
      .refine(
        (p) => new Set(p.schedules.map((s) => s.name)).size === p.schedules.length,
        'schedule names must be unique',
      ),
    /** Alerts to operators (docs/liveness.md). */
    alerts: alertsSchema.default({
      xmpp: [],
      email: [],
      onRecovery: true,
      flapping: { changes: 5, windowMin: 10 },
      repeatAfterS: 300,
      maxPerMinute: 20,
    }),
    /** E-mail polling and e-mail alerts; off when left out. */
    email: emailSchema.optional(),
    log: logSchema,
  })
  .strict()
  .superRefine((config, ctx) => {
    refuseMetersDomainInAcl(config, ctx, 'every meter command groups');
    config.polling.schedules.forEach((schedule, index) => {
      if (schedule.kind === 'email' && !config.email) {
        ctx.addIssue({
          code: 'custom',
          path: ['polling', 'schedules', index, 'kind'],
          message: "an 'email' schedule needs the 'email' section (address, outgoing, incoming)",
        });
      }
    });
    if (config.alerts.email.length > 0 && !config.email) {
      ctx.addIssue({
        code: 'custom',
        path: ['alerts', 'email'],
        message: "e-mail alerts need the 'email' section (address, outgoing)",
      });
    }
  });

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.'));
}

/** IP literals must be loopback or private (RFC 1918, RFC 4193); names are resolved by the OS. */
function isPrivateOrName(host: string): boolean {
  if (isIP(host) === 0) return true;
  return (
    /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host) || /^(::1$|f[cd])/i.test(host)
  );
}

export type ServiceConfig = z.infer<typeof serviceConfigSchema>;
export type LivenessConfig = ServiceConfig['liveness'];
export type LivenessLimits = z.infer<typeof livenessLimitsSchema>;
export type PollScheduleConfig = ServiceConfig['polling']['schedules'][number];
export type AlertsConfig = ServiceConfig['alerts'];
export type EmailConfig = NonNullable<ServiceConfig['email']>;
export type DemandResponseRuleConfig = ServiceConfig['demandResponse']['rules'][number];

export const SERVICE_ENV_KEYS: Record<string, string> = {
  GP_DOMAIN: 'domain',
  GP_COMPONENT_HOST: 'component.host',
  GP_COMPONENT_PORT: 'component.port',
  GP_COMPONENT_SECRET: 'component.secret',
  GP_DATABASE: 'database.path',
  GP_HTTP_HOST: 'http.host',
  GP_HTTP_PORT: 'http.port',
  GP_PROVISIONING: 'provisioning.kind',
  GP_PROSODY_CONFIG: 'provisioning.prosodyConfig',
  LOG_LEVEL: 'log.level',
  LOG_FORMAT: 'log.format',
};

export function loadServiceConfig(file: string | undefined, env = process.env): ServiceConfig {
  return loadConfig(serviceConfigSchema, {
    file,
    env,
    envKeys: SERVICE_ENV_KEYS,
    secretFileKeys: ['component.secret'],
  });
}

export function componentJidOf(config: ServiceConfig): string {
  return config.component.jid ?? serviceJid(config.domain);
}
