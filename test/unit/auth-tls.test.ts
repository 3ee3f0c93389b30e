import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessControl } from '../../presence-service/auth/access-control.js';
import { hashPassword } from '../../presence-service/auth/passwords.js';
import { buildHttpApi } from '../../presence-service/http/build-http-api.js';
import { createChangeBus } from '../../presence-service/presence/change-bus.js';
import { type Database, openDatabase } from '../../presence-service/store/database.js';
import { createMeterRegistry } from '../../presence-service/store/meter-registry.js';
import { createPresenceStore } from '../../presence-service/store/presence-store.js';
import { silentLogger } from '../../src/log.js';

// The API over HTTPS (config `http.tls`), for real on a socket: it serves TLS with the given
// certificate, and the session cookie it sets is Secure.

describe('HTTPS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gp-auth-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  let db: Database;
  let app: FastifyInstance;
  let port: number;

  beforeAll(async () => {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    db = openDatabase(':memory:');
    const auth = createAccessControl({ db });
    auth.users.add({
      username: 'alice',
      role: 'viewer',
      passwordHash: await hashPassword('a long enough password'),
    });
    app = buildHttpApi({
      auth,
      server: { https: { cert: readFileSync(certFile), key: readFileSync(keyFile) } },
      registry: createMeterRegistry({ db }),
      store: createPresenceStore({ db }),
      bus: createChangeBus(),
      logger: silentLogger(),
      health: () => ({ xmpp: 'online' }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });

  afterAll(async () => {
    await app.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves TLS with the configured certificate and sets a Secure session cookie', async () => {
    const body = JSON.stringify({ username: 'alice', password: 'a long enough password' });
    const answer = await new Promise<{ status: number; setCookie: string[] }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/api/session',
          method: 'POST',
          ca: readFileSync(certFile),
          headers: { 'content-type': 'application/json' },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, setCookie: res.headers['set-cookie'] ?? [] }),
          );
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    expect(answer.status).toBe(200);
    expect(answer.setCookie.join()).toMatch(/gp_session=.*; Secure/);
  });
});
