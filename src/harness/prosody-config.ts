import { serviceJid } from '../protocol/meter-id.js';
import { luaList, luaString } from './lua.js';

// Renders prosody.cfg.lua for Prosody 0.12. One pure function serves the harness (temp dir,
// loopback, free ports) and the shipped production example (deploy/prosody/prosody.cfg.lua is
// this function's output for PRODUCTION_PROSODY_PARAMS, checked by a unit test), so what the
// tests run against and what we ship cannot drift apart. The comments are part of the output
// because the shipped file must explain itself to whoever installs it.

/** How fast Prosody notices a silent client (XMPP-NOTES "Liveness"). */
export interface LivenessSettings {
  /** network_settings.read_timeout: seconds of silence before Prosody probes the link. */
  readTimeoutS: number;
  /** smacks_hibernation_time: seconds a dropped XEP-0198 session stays resumable. */
  hibernationS: number;
}

/** What we ship: a silent meter is offline after about 15 + 15 + 10 = 40 s. */
export const SHIPPED_LIVENESS: LivenessSettings = { readTimeoutS: 15, hibernationS: 10 };

export interface ProsodyPorts {
  /** STARTTLS client-to-server (RFC 6120 §5). */
  c2s: number;
  /** Direct TLS client-to-server (XEP-0368). */
  directTls: number;
  /** XEP-0114 component port. */
  component: number;
  /** Plain HTTP on loopback, for /metrics. */
  http: number;
}

export interface ProsodyConfigParams {
  domain: string;
  /** Where the client ports listen; the component and HTTP ports are always loopback only. */
  c2sInterfaces: readonly string[];
  ports: ProsodyPorts;
  componentSecret: string;
  liveness: LivenessSettings;
  dataPath: string;
  pidFile: string;
  adminSocket: string;
  logFile: string;
  /** Directory Prosody searches for `<domain>.crt` + `<domain>.key`. */
  certificatesDir: string;
  /** mod_limits rate for each client connection, e.g. "10kb/s". */
  c2sRateLimit: string;
  /** Comment lines at the top saying what this file is for. */
  header: readonly string[];
}

/** The component the presence service connects as (PROTOCOL "Names"). */
export function componentJidFor(domain: string): string {
  return serviceJid(domain);
}

/**
 * Modules beyond Prosody's automatic ones (presence, message, iq, offline, c2s, posix), each
 * with why we load it. Every name exists in Prosody 0.12 core (/usr/lib/prosody/modules).
 */
export const ENABLED_MODULES: ReadonlyArray<readonly [name: string, why: string]> = [
  ['roster', "RFC 6121: the service's presence subscription lives in each meter's roster"],
  ['saslauth', 'RFC 6120 §6: SASL login'],
  ['tls', 'RFC 6120 §5: STARTTLS on c2s_ports'],
  ['disco', 'XEP-0030 service discovery'],
  ['ping', 'XEP-0199: answer pings, so clients can test the link'],
  ['lastactivity', 'XEP-0012 last activity'],
  ['smacks', 'XEP-0198 stream management (see Liveness)'],
  ['carbons', 'XEP-0280, for people who watch with several clients'],
  ['adhoc', 'XEP-0050: Profanity refuses ad-hoc commands unless the server has it'],
  ['admin_shell', '`prosodyctl shell`: provisioning creates accounts through it'],
  ['uptime', 'XEP-0012 on the server JID'],
  ['time', 'XEP-0202 entity time'],
  ['version', 'XEP-0092 software version'],
  ['limits', 'per-connection rate limits (the `limits` option)'],
  ['http_openmetrics', '/metrics on the loopback HTTP port'],
];

/** Seconds until Prosody reports a silently dead client offline (the sum explained above). */
export function offlineAfterS(liveness: LivenessSettings): number {
  return 2 * liveness.readTimeoutS + liveness.hibernationS;
}

export function renderProsodyConfig(p: ProsodyConfigParams): string {
  const lines = [
    ...p.header.map((line) => (line ? `-- ${line}` : '--')),
    '--',
    '-- Every option after a VirtualHost or Component line belongs to that section (also options',
    '-- pulled in with Include), so all global options come first.',
    '',
    '---------- Network ----------',
    '',
    '-- Addresses the client ports listen on ("*": all IPv4, "::": all IPv6).',
    `interfaces = ${luaList(p.c2sInterfaces)}`,
    '-- STARTTLS client port (RFC 6120 §5): what desktop clients such as Gajim and Profanity use.',
    `c2s_ports = ${luaList([p.ports.c2s])}`,
    '-- Direct TLS client port (XEP-0368): TLS from the first byte, one round trip less than',
    '-- STARTTLS. The meter agents connect here.',
    `c2s_direct_tls_ports = ${luaList([p.ports.directTls])}`,
    '-- XEP-0114 component port for the presence service. Components have no TLS and no stream',
    '-- management, so this port must never be reachable from outside (PROTOCOL §8): it listens',
    '-- on loopback only, whatever `interfaces` says.',
    `component_ports = ${luaList([p.ports.component])}`,
    'component_interface = "127.0.0.1"',
    '-- Plain HTTP on loopback only, for scraping /metrics (mod_http_openmetrics); no HTTPS.',
    `http_ports = ${luaList([p.ports.http])}`,
    'http_interfaces = { "127.0.0.1" }',
    'https_ports = {}',
    '',
    '---------- Liveness (XMPP-NOTES "Liveness") ----------',
    '',
    '-- Prosody 0.12 never pings clients. After `read_timeout` seconds of silence it sends an',
    '-- XEP-0198 <r/>; if the link stays silent for another `read_timeout` it drops the session,',
    '-- which then waits `smacks_hibernation_time` for a resumption before the meter goes',
    '-- offline. With the defaults (840 s and 600 s) a dead meter looks online for about 38',
    `-- minutes; here it is about ${offlineAfterS(p.liveness)} s. Sooner than that only a ping from`,
    '-- the presence service (XEP-0199) can tell; the socket closing (a killed agent) is seen at once.',
    `smacks_hibernation_time = ${p.liveness.hibernationS}`,
    '',
    '---------- Capacity (BENCHMARKS.md, `npm run bench`) ----------',
    '',
    "-- `tcp_backlog`: the accept queue of every listening port (Prosody's default is 128). After",
    '-- a restart under 10,000 meters, logins that arrived while Prosody was busy with TLS',
    '-- handshakes overflowed it and were dropped at SYN; the kernel retried them seconds later.',
    `network_settings = { read_timeout = ${p.liveness.readTimeoutS}, tcp_backlog = 1024 }`,
    "-- Lua 5.4's generational collector (Debian's prosody runs on Lua 5.4). With 10,000 sessions",
    '-- the default incremental one held the CPU for about 450 ms of every 1.1 s at 1,000',
    "-- presences/s; in the same bench the generational one halved Prosody's CPU per login.",
    'gc = { mode = "generational" }',
    '',
    '---------- Security ----------',
    '',
    '-- Certificates: `<domain>.crt` and `<domain>.key` in this directory; one certificate whose',
    '-- SANs cover the domain and presence.<domain> serves STARTTLS and direct TLS alike.',
    `certificates = ${luaString(p.certificatesDir)}`,
    '-- No login without TLS.',
    'c2s_require_encryption = true',
    '-- Passwords stored as SCRAM hashes, never in clear.',
    'authentication = "internal_hashed"',
    '-- Accounts are provisioned by the operator (prosodyctl), never self-registered.',
    'allow_registration = false',
    '-- The grid is a closed system: no federation with other XMPP servers.',
    'modules_disabled = { "s2s" }',
    'modules_enabled = {',
    ...ENABLED_MODULES.map(([name, why]) => `  ${luaString(name)}, -- ${why}`),
    '}',
    '-- Per-connection rate limit for clients (mod_limits): a client sending faster is read',
    '-- more slowly, nothing is dropped. The component is not limited.',
    `limits = { c2s = { rate = ${luaString(p.c2sRateLimit)}, burst = "2s" } }`,
    '',
    '---------- Files ----------',
    '',
    '-- One file per account under data_path (lua-dbi-sqlite3 allows storage = "sql" instead).',
    'storage = "internal"',
    `data_path = ${luaString(p.dataPath)}`,
    `pidfile = ${luaString(p.pidFile)}`,
    '-- Unix socket `prosodyctl shell` talks to (mod_admin_socket).',
    `admin_socket = ${luaString(p.adminSocket)}`,
    `log = { { levels = { min = "info" }, to = "file", filename = ${luaString(p.logFile)} } }`,
    '-- Counters for /metrics, gathered when scraped rather than on a timer.',
    'statistics = "internal"',
    'statistics_interval = "manual"',
    '',
    '---------- Hosts ----------',
    '',
    '-- Meters log in as <meter-id>@<domain>/agent (PROTOCOL "Names").',
    `VirtualHost ${luaString(p.domain)}`,
    '',
    '-- The presence service (XEP-0114). The secret is its password: make it long and random',
    '-- (e.g. `openssl rand -hex 32`) and give the presence service the same one.',
    `Component ${luaString(componentJidFor(p.domain))}`,
    `component_secret = ${luaString(p.componentSecret)}`,
    '',
  ];
  return lines.join('\n');
}
