import { isIP } from 'node:net';
import { z } from 'zod';
import {
  aclSchema,
  domainSchema,
  logSchema,
  refuseMetersDomainInAcl,
} from '../src/config/common-schemas.js';
import { loadConfig } from '../src/config/load-config.js';
import { METER_ID_PATTERN } from '../src/protocol/index.js';
import { serviceJid } from '../src/protocol/meter-id.js';

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
         * Loopback only until the API authenticates its callers (the dashboard issue): anyone
         * who reaches it may run group commands and change demand-response limits.
         */
        host: z
          .string()
          .default('127.0.0.1')
          .refine(
            (h) => h === 'localhost' || h === '::1' || h.startsWith('127.'),
            'the HTTP API has no authentication yet: it listens on loopback only (127.0.0.1, ::1)',
          ),
        port: z.coerce.number().int().min(0).max(65535).default(8080),
      })
      .strict()
      .default({ host: '127.0.0.1', port: 8080 }),
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
    log: logSchema,
  })
  .strict()
  .superRefine((config, ctx) => refuseMetersDomainInAcl(config, ctx, 'every meter command groups'));

/** IP literals must be loopback or private (RFC 1918, RFC 4193); names are resolved by the OS. */
function isPrivateOrName(host: string): boolean {
  if (isIP(host) === 0) return true;
  return (
    /^(127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host) || /^(::1$|f[cd])/i.test(host)
  );
}

export type ServiceConfig = z.infer<typeof serviceConfigSchema>;
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
