import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ERROR_CODES, GridpresenceError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { ensureProsodyInstalled } from './ensure-prosody.js';
import { ensurePki, type PkiFiles } from './pki.js';
import { findFreePorts, portsInUse } from './ports.js';
import {
  type AccountCredentials,
  createProsodyAccounts,
  deleteProsodyAccount,
} from './prosody-accounts.js';
import {
  componentJidFor,
  type LivenessSettings,
  type ProsodyPorts,
  renderProsodyConfig,
  SHIPPED_LIVENESS,
} from './prosody-config.js';
import { launchProsody, type ProsodyChild } from './prosody-process.js';
import { assertProsodyCanRead, chownToProsody } from './prosody-user.js';

// The test/dev harness: a private Prosody on loopback with its own CA, config, data and logs in
// one directory. Tests and `npm start` use it; nothing here is used in production.

const HOST = '127.0.0.1';
/** Unix socket paths are limited to 108 bytes (sockaddr_un.sun_path). */
const MAX_SOCKET_PATH = 107;

export interface ProsodyHarnessOptions {
  /** Default 'grid.localhost'. */
  domain?: string;
  /**
   * Where config, certificates, data and logs go. Default: a fresh temp dir, removed by stop().
   * A dir from an earlier run is reused: its CA, accounts and component secret persist.
   */
  dir?: string;
  /** Default: free ports on 127.0.0.1. */
  ports?: Partial<ProsodyPorts>;
  /** Default: the one stored in a reused dir, else 32 random hex characters. */
  componentSecret?: string;
  /** Default SHIPPED_LIVENESS. */
  liveness?: LivenessSettings;
  logger?: Logger;
  /** How long Prosody may take to open its ports; default 5,000 ms. */
  startTimeoutMs?: number;
  /** Keep a temp dir we created after stop() (also with GP_HARNESS_KEEP_DIR=1), for debugging. */
  keepDir?: boolean;
}

export interface RunningProsody {
  domain: string;
  host: string;
  c2sPort: number;
  directTlsPort: number;
  componentPort: number;
  httpPort: number;
  componentJid: string;
  componentSecret: string;
  /** PEM of the private CA that signed the server certificate. */
  caFile: string;
  /** Directory with the CA under its hash name, for Profanity's `/tls certpath`. */
  hashedCaDir: string;
  configFile: string;
  dir: string;
  /** Pid of the current Prosody process (changes on restart()). */
  readonly pid: number;
  createAccounts(accounts: AccountCredentials[]): Promise<void>;
  deleteAccount(username: string): Promise<void>;
  /** Stops our Prosody child (SIGTERM, SIGKILL after 5 s) and waits for it. Idempotent. */
  stop(): Promise<void>;
  /** Stop, then start again on the same ports, config and data. */
  restart(): Promise<void>;
}

export async function startProsody(options: ProsodyHarnessOptions = {}): Promise<RunningProsody> {
  const startedAt = Date.now();
  const logger = (options.logger ?? silentLogger()).child({ module: 'prosody-harness' });
  const domain = options.domain ?? 'grid.localhost';
  await ensureProsodyInstalled(logger);

  const ownsDir = options.dir === undefined;
  const dir = options.dir
    ? resolve(options.dir)
    : await mkdtemp(join(tmpdir(), 'gridpresence-prosody-'));
  const removeDir = ownsDir && !options.keepDir && process.env.GP_HARNESS_KEEP_DIR !== '1';

  let setup: HarnessSetup;
  let child: ProsodyChild;
  try {
    setup = await prepareDir(dir, domain, options, logger);
    child = await launch(setup, options, logger);
  } catch (error) {
    if (!removeDir) throw error;
    await rm(dir, { recursive: true, force: true });
    // Start failures quote Prosody's log tails, so the message survives the dir.
    throw error instanceof GridpresenceError
      ? new GridpresenceError(error.code, error.message, {
          cause: error.cause,
          hint: 'set GP_HARNESS_KEEP_DIR=1 to keep the harness dir for inspection',
        })
      : error;
  }
  const { paths, ports, componentSecret, pki } = setup;
  let stopped = false;
  logger.info({ dir, domain, ports, ms: Date.now() - startedAt }, 'harness prosody ready');

  return {
    domain,
    host: HOST,
    c2sPort: ports.c2s,
    directTlsPort: ports.directTls,
    componentPort: ports.component,
    httpPort: ports.http,
    componentJid: componentJidFor(domain),
    componentSecret,
    caFile: pki.caFile,
    hashedCaDir: pki.hashedCaDir,
    configFile: paths.configFile,
    dir,
    get pid() {
      return child.pid;
    },
    createAccounts: (accounts) => createProsodyAccounts(paths.configFile, domain, accounts),
    deleteAccount: (username) => deleteProsodyAccount(paths.configFile, `${username}@${domain}`),
    async stop() {
      await child.stop();
      if (stopped) return;
      stopped = true;
      if (removeDir) await rm(dir, { recursive: true, force: true });
      logger.info({ dir, removed: removeDir }, 'harness prosody stopped');
    },
    async restart() {
      if (stopped) throw startError('restart() after stop(): start a new harness instead');
      await child.stop();
      child = await launch(setup, options, logger);
    },
  };
}

interface HarnessSetup {
  paths: ReturnType<typeof harnessPaths>;
  ports: ProsodyPorts;
  componentSecret: string;
  pki: PkiFiles;
}

/** Certificates, secret, ports and config in `dir`, all owned by the user Prosody runs as. */
async function prepareDir(
  dir: string,
  domain: string,
  options: ProsodyHarnessOptions,
  logger: Logger,
): Promise<HarnessSetup> {
  const paths = harnessPaths(dir);
  if (Buffer.byteLength(paths.adminSocket) > MAX_SOCKET_PATH) {
    throw startError(`dir ${dir} is too long for Prosody's admin socket path; use a shorter one`);
  }
  await mkdir(paths.dataDir, { recursive: true });
  await mkdir(paths.logsDir, { recursive: true });

  const componentSecret = await resolveSecret(paths.secretFile, options.componentSecret);
  const ports = await resolvePorts(options.ports);
  const pki = await ensurePki(paths.certsDir, domain, logger);
  const config = renderProsodyConfig({
    domain,
    c2sInterfaces: [HOST],
    ports,
    componentSecret,
    liveness: options.liveness ?? SHIPPED_LIVENESS,
    dataPath: paths.dataDir,
    pidFile: paths.pidFile,
    adminSocket: paths.adminSocket,
    logFile: paths.logFile,
    certificatesDir: paths.certsDir,
    // Load tests log thousands of meters in over one connection each: do not throttle them.
    c2sRateLimit: '10mb/s',
    header: ['Written by the Gridpresence test harness (src/harness/start-prosody.ts).'],
  });
  await writeFile(paths.configFile, config, { mode: 0o640 });
  // Prosody runs as the prosody user when we are root and writes data, logs and its socket here.
  await chownToProsody(dir);
  await assertProsodyCanRead(paths.configFile).catch((error: Error) => {
    throw startError(error.message);
  });
  return { paths, ports, componentSecret, pki };
}

async function launch(
  { paths, ports }: HarnessSetup,
  options: ProsodyHarnessOptions,
  logger: Logger,
): Promise<ProsodyChild> {
  const busy = await portsInUse(Object.values(ports));
  if (busy.length > 0) throw startError(`port(s) ${busy.join(', ')} already in use`);
  return launchProsody({
    configFile: paths.configFile,
    consoleLogFile: paths.consoleLogFile,
    logFile: paths.logFile,
    // The XMPP ports are what clients and the service need; HTTP only serves /metrics.
    readyPorts: [ports.c2s, ports.directTls, ports.component],
    startTimeoutMs: options.startTimeoutMs ?? 5_000,
    logger,
  });
}

function harnessPaths(dir: string) {
  const logsDir = join(dir, 'logs');
  const dataDir = join(dir, 'data');
  return {
    configFile: join(dir, 'prosody.cfg.lua'),
    certsDir: join(dir, 'certs'),
    dataDir,
    logsDir,
    logFile: join(logsDir, 'prosody.log'),
    consoleLogFile: join(logsDir, 'console.log'),
    pidFile: join(dir, 'prosody.pid'),
    adminSocket: join(dir, 'prosody.sock'),
    secretFile: join(dir, 'component-secret'),
  };
}

/** A given secret wins and is stored; else the stored one; else a new random one. */
async function resolveSecret(file: string, given: string | undefined): Promise<string> {
  const stored = given ? undefined : (await readFile(file, 'utf8').catch(() => '')).trim();
  const secret = given ?? (stored || randomBytes(16).toString('hex'));
  if (secret !== stored) await writeFile(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

async function resolvePorts(given: Partial<ProsodyPorts> = {}): Promise<ProsodyPorts> {
  // Callers may pass { c2s: undefined }: only real numbers are taken.
  const taken = Object.values(given).filter((port): port is number => port !== undefined);
  // Ask for spares so a free port that happens to equal a given one can be skipped.
  const free = (await findFreePorts(4 + taken.length)).filter((port) => !taken.includes(port));
  const next = (): number => free.shift() as number;
  return {
    c2s: given.c2s ?? next(),
    directTls: given.directTls ?? next(),
    component: given.component ?? next(),
    http: given.http ?? next(),
  };
}

function startError(message: string): GridpresenceError {
  return new GridpresenceError(ERROR_CODES.PROSODY_START_FAILED, message);
}
