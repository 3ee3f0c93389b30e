import { randomBytes, X509Certificate } from 'node:crypto';
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ERROR_CODES, GridpresenceError } from '../errors.js';
import type { Logger } from '../log.js';
import { serviceJid } from '../protocol/meter-id.js';
import { chownToProsody } from './prosody-user.js';
import { describeFailure, runCommand } from './run-command.js';

// A private CA and one server certificate for the harness Prosody, made with the openssl CLI.
// EC P-256 because Prosody spends about 3 ms of CPU per login with it against 4 ms with RSA
// (XMPP-NOTES "Prosody"), and logins are what a mass reconnect is made of.

const CA_DAYS = 3650;
const SERVER_DAYS = 730;
/** Certificates expiring sooner than this are made again rather than reused. */
const RENEW_BEFORE_MS = 30 * 24 * 3600 * 1000;

export interface PkiFiles {
  /** PEM of the private CA; what clients must trust. */
  caFile: string;
  caKeyFile: string;
  certFile: string;
  keyFile: string;
  /** A copy of the CA under its OpenSSL hash name: Profanity's `/tls certpath` wants a dir. */
  hashedCaDir: string;
}

export function pkiFiles(certsDir: string, domain: string): PkiFiles {
  return {
    caFile: join(certsDir, 'ca.pem'),
    caKeyFile: join(certsDir, 'ca.key'),
    // Prosody's certificate index only reads `*.crt` files with a `.key` beside them, so the CA
    // (ca.pem) is never mistaken for a server certificate.
    certFile: join(certsDir, `${domain}.crt`),
    keyFile: join(certsDir, `${domain}.key`),
    hashedCaDir: join(certsDir, 'ca-hashed'),
  };
}

/** The names the server certificate covers (RFC 6125 §6.4: DNS and IP SANs, no CN matching). */
export function serverSubjectAltNames(domain: string): string[] {
  return [
    `DNS:${domain}`,
    `DNS:*.${domain}`,
    `DNS:${serviceJid(domain)}`,
    'DNS:localhost',
    'IP:127.0.0.1',
  ];
}

/**
 * Makes sure `certsDir` holds a CA and a server certificate for `domain`, reusing what an earlier
 * run left when it is still good for 30 days (so clients that trusted the CA keep working).
 */
export async function ensurePki(
  certsDir: string,
  domain: string,
  logger: Logger,
): Promise<PkiFiles> {
  assertDomain(domain);
  const files = pkiFiles(certsDir, domain);
  await mkdir(certsDir, { recursive: true });

  let ca = await loadFreshCertificate(files.caFile);
  const caKeyPresent = await readable(files.caKeyFile);
  if (!ca || !caKeyPresent) {
    logger.info({ caFile: files.caFile }, 'creating a private CA');
    await createCa(files, domain);
    ca = await loadFreshCertificate(files.caFile);
    if (!ca) throw pkiError(`the CA written to ${files.caFile} cannot be read back`);
  }

  const server = await loadFreshCertificate(files.certFile);
  const serverUsable =
    server !== undefined &&
    (await readable(files.keyFile)) &&
    server.checkIssued(ca) &&
    server.verify(ca.publicKey) &&
    server.checkHost(serviceJid(domain)) !== undefined;
  if (!serverUsable) {
    logger.info({ certFile: files.certFile }, 'creating the server certificate');
    await createServerCertificate(files, domain, certsDir);
  }

  await writeHashedCaDir(files);
  // The server key must be readable by the prosody user Prosody runs as (prosody-user.ts).
  await chownToProsody(files.keyFile);
  return files;
}

async function createCa(files: PkiFiles, domain: string): Promise<void> {
  await openssl([
    'req',
    '-x509',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-sha256',
    '-days',
    String(CA_DAYS),
    '-subj',
    `/CN=Gridpresence test CA for ${domain}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE,pathlen:0',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout',
    files.caKeyFile,
    '-out',
    files.caFile,
  ]);
  await chmod(files.caKeyFile, 0o600);
}

async function createServerCertificate(
  files: PkiFiles,
  domain: string,
  certsDir: string,
): Promise<void> {
  // Hidden, and not ending in .crt, so Prosody's certificate index never looks at them.
  const csrFile = join(certsDir, `.${domain}.csr`);
  const extFile = join(certsDir, `.${domain}.ext`);
  try {
    await openssl([
      'req',
      '-new',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-subj',
      `/CN=${domain}`,
      '-keyout',
      files.keyFile,
      '-out',
      csrFile,
    ]);
    // `x509 -req` drops the CSR's extensions, so they come from a file (works on OpenSSL 1.1
    // and 3.x alike, unlike `-copy_extensions`).
    await writeFile(
      extFile,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${serverSubjectAltNames(domain).join(',')}`,
        '',
      ].join('\n'),
    );
    await openssl([
      'x509',
      '-req',
      '-in',
      csrFile,
      '-CA',
      files.caFile,
      '-CAkey',
      files.caKeyFile,
      // RFC 5280 §4.1.2.2: positive, unique, at most 20 octets.
      '-set_serial',
      `0x7${randomBytes(15).toString('hex')}`,
      '-sha256',
      '-days',
      String(SERVER_DAYS),
      '-extfile',
      extFile,
      '-out',
      files.certFile,
    ]);
    await chmod(files.keyFile, 0o600);
  } finally {
    await rm(csrFile, { force: true });
    await rm(extFile, { force: true });
  }
}

async function writeHashedCaDir(files: PkiFiles): Promise<void> {
  await rm(files.hashedCaDir, { recursive: true, force: true });
  await mkdir(files.hashedCaDir, { recursive: true });
  await copyFile(files.caFile, join(files.hashedCaDir, 'ca.pem'));
  await openssl(['rehash', files.hashedCaDir]);
}

/** The certificate in `file` if it exists and is valid for at least another 30 days. */
async function loadFreshCertificate(file: string): Promise<X509Certificate | undefined> {
  let pem: string;
  try {
    pem = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  try {
    const cert = new X509Certificate(pem);
    const now = Date.now();
    const fresh =
      Date.parse(cert.validFrom) <= now && Date.parse(cert.validTo) - now > RENEW_BEFORE_MS;
    return fresh ? cert : undefined;
  } catch {
    return undefined;
  }
}

async function readable(file: string): Promise<boolean> {
  try {
    await readFile(file);
    return true;
  } catch {
    return false;
  }
}

async function openssl(args: string[]): Promise<void> {
  let result: Awaited<ReturnType<typeof runCommand>>;
  try {
    result = await runCommand('openssl', args, { timeoutMs: 30_000 });
  } catch (cause) {
    throw pkiError('cannot run openssl', cause);
  }
  if (!result.ok) throw pkiError(describeFailure(`openssl ${args[0]}`, result));
}

function assertDomain(domain: string): void {
  // The domain becomes a file name and an openssl -subj value: keep it to DNS characters.
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domain)) {
    throw pkiError(`'${domain}' is not a lower-case DNS name`);
  }
}

function pkiError(message: string, cause?: unknown): GridpresenceError {
  return new GridpresenceError(ERROR_CODES.PROSODY_START_FAILED, `certificates: ${message}`, {
    cause,
    hint: 'check that the openssl command-line tool is installed and the directory is writable',
  });
}
