import { readFileSync } from 'node:fs';
import { type PeerCertificate, connect as tlsConnect } from 'node:tls';
import { type Check, type CheckOutcome, fail, required } from './check.js';
import { judgeCertificate, judgeHandshakeError, type PresentedCertificate } from './tls-verdict.js';

// Check 5: direct TLS (XEP-0368) to the address the tcp check reached, trusting what the agent
// trusts (xmpp.caFile, else the system CAs) and expecting a certificate for the XMPP domain, as
// src/xmpp/create-client.ts connects. Verification is not switched off: the handshake is let
// through with rejectUnauthorized false only to read the certificate and Node's verdict on it
// (`authorizationError`), so a failure can say what is wrong with which certificate.

export const tlsCheck: Check = {
  name: 'tls',
  needs: ['tcp'],
  async run(ctx, { signal, timeoutMs }) {
    const config = required(ctx.config, 'the config');
    const address = required(ctx.reachedAddress, 'the reached address');
    const { port, caFile } = config.xmpp;
    let ca: string | undefined;
    if (caFile) {
      const read = readCaFile(caFile);
      if (typeof read !== 'string') return read;
      ca = read;
    }
    const where = `${address}:${port}`;
    const handshake = await handshakeWith({ address, port, domain: config.domain, ca, signal });
    if (handshake.kind === 'timeout') {
      return fail(
        `${where} accepted TCP but sent no TLS handshake within ${timeoutMs} ms`,
        "xmpp.port may be another service's port: use the server's direct-TLS port (usually 5223)",
      );
    }
    if (handshake.kind === 'error')
      return judgeHandshakeError(handshake.error, where, config.domain);
    return judgeCertificate({
      domain: config.domain,
      caFile,
      now: ctx.now(),
      clockSuspect: ctx.clockSuspect,
      certificate: handshake.certificate,
      errorCode: handshake.errorCode,
    });
  },
};

function readCaFile(file: string): string | CheckOutcome {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    return fail(
      `cannot read xmpp.caFile ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      'point xmpp.caFile at the PEM file of the CA that signed the server certificate, readable by this user',
    );
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    return fail(
      `xmpp.caFile ${file} holds no PEM certificate`,
      'xmpp.caFile must be the CA certificate in PEM form (-----BEGIN CERTIFICATE-----), not a key or DER file',
    );
  }
  return pem;
}

type Handshake =
  | { kind: 'done'; certificate: PresentedCertificate; errorCode: string | undefined }
  | { kind: 'error'; error: NodeJS.ErrnoException }
  | { kind: 'timeout' };

function handshakeWith(options: {
  address: string;
  port: number;
  domain: string;
  ca: string | undefined;
  signal: AbortSignal;
}): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: options.address,
      port: options.port,
      // RFC 6125 / RFC 6120 §13.7.2.1: the certificate must name the XMPP domain, not the host.
      servername: options.domain,
      ...(options.ca ? { ca: options.ca } : {}),
      rejectUnauthorized: false,
    });
    const finish = (handshake: Handshake) => {
      options.signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(handshake);
    };
    const onAbort = () => finish({ kind: 'timeout' });
    if (options.signal.aborted) return onAbort();
    options.signal.addEventListener('abort', onAbort);
    socket.once('secureConnect', () => {
      const peer = socket.getPeerCertificate(false);
      const error = socket.authorizationError as unknown as string | Error | null;
      finish({
        kind: 'done',
        certificate: describe(peer),
        errorCode: socket.authorized
          ? undefined
          : typeof error === 'string'
            ? error
            : ((error as NodeJS.ErrnoException | null)?.code ?? error?.message ?? 'UNKNOWN'),
      });
    });
    socket.once('error', (error: NodeJS.ErrnoException) => finish({ kind: 'error', error }));
  });
}

function describe(peer: PeerCertificate): PresentedCertificate {
  // An empty object when the server sent no certificate.
  const cert = peer as Partial<PeerCertificate>;
  return {
    subject: nameOf(cert.subject),
    issuer: nameOf(cert.issuer),
    altNames: (cert.subjectaltname ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
    validFrom: new Date(cert.valid_from ?? Number.NaN),
    validTo: new Date(cert.valid_to ?? Number.NaN),
  };
}

function nameOf(name: { CN?: string | string[]; O?: string | string[] } | undefined): string {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const cn = first(name?.CN);
  const o = first(name?.O);
  if (cn && o) return `"${cn}" (${o})`;
  return cn || o ? `"${cn ?? o}"` : '(no name)';
}
