import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadServiceConfig, serviceConfigSchema } from '../../presence-service/config.js';

// The `http` section with access control (docs/configuration.md): session limits, TLS, the proxy
// switch, and where the API may listen: beyond loopback only over TLS or behind a proxy.

const base = { domain: 'grid.example', component: { secret: 'a-secret-of-length' } };
const dir = mkdtempSync(join(tmpdir(), 'gp-auth-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(http: object) {
  const file = join(dir, 'service.json');
  writeFileSync(file, JSON.stringify({ ...base, http }));
  return () => loadServiceConfig(file, {});
}

describe('http config', () => {
  it('defaults to loopback, 60 min idle, 12 h sessions, no TLS, no proxy', () => {
    expect(serviceConfigSchema.parse(base).http).toEqual({
      host: '127.0.0.1',
      port: 8080,
      sessionIdleMin: 60,
      sessionMaxHours: 12,
      trustProxy: false,
    });
  });

  it('refuses a non-loopback host without TLS or a proxy, naming the key', () => {
    expect(load({ host: '0.0.0.0' })).toThrow(/config key 'http.host': .*needs http.tls/);
    expect(load({ host: '127.example.com' })).toThrow(/'http.host'/);
    for (const host of ['127.0.0.1', '127.0.1.1', '::1', 'localhost']) {
      expect(load({ host })().http.host).toBe(host);
    }
  });

  it('allows another host with tls, or with trustProxy behind a TLS-terminating proxy', () => {
    const tls = { certFile: '/etc/gp/cert.pem', keyFile: '/etc/gp/key.pem' };
    expect(load({ host: '0.0.0.0', tls })().http.tls).toEqual(tls);
    expect(load({ host: '10.0.0.5', trustProxy: true })().http.trustProxy).toBe(true);
    expect(load({ tls: { certFile: '/x' } })).toThrow(/'http.tls.keyFile'/);
  });

  it('bounds the session limits', () => {
    expect(load({ sessionIdleMin: 0 })).toThrow(/'http.sessionIdleMin'/);
    expect(load({ sessionMaxHours: 24 * 365 })).toThrow(/'http.sessionMaxHours'/);
    expect(load({ sessionIdleMin: 15, sessionMaxHours: 8 })().http).toMatchObject({
      sessionIdleMin: 15,
      sessionMaxHours: 8,
    });
  });
});
