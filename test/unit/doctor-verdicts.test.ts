import { describe, expect, it } from 'vitest';
import { judgeClock, MAX_YEARS_AHEAD, RELEASE_YEAR } from '../../meter-agent/doctor/clock-check.js';
import { judgeFreeSpace, worstCaseBytes } from '../../meter-agent/doctor/disk-check.js';
import { judgeMeterLink } from '../../meter-agent/doctor/meter-check.js';
import { judgeSubscription } from '../../meter-agent/doctor/subscription-check.js';
import {
  judgeCertificate,
  judgeHandshakeError,
  type TlsFacts,
} from '../../meter-agent/doctor/tls-verdict.js';

// The doctor's judgements without sockets: the stories a real server cannot easily be made to
// tell (an expired certificate, a clock in 2001, a full disk) and the exact words for each.

const DAY = 24 * 3600 * 1000;
const NOW = new Date(`${RELEASE_YEAR}-06-01T12:00:00Z`);

function tls(overrides: Partial<TlsFacts> = {}, daysLeft = 300, daysOld = 30): TlsFacts {
  return {
    domain: 'grid.example',
    caFile: '/etc/gridpresence/ca.pem',
    now: NOW,
    clockSuspect: undefined,
    errorCode: undefined,
    certificate: {
      subject: '"grid.example"',
      issuer: '"Grid CA"',
      altNames: ['DNS:grid.example', 'DNS:*.grid.example'],
      validFrom: new Date(NOW.getTime() - daysOld * DAY),
      validTo: new Date(NOW.getTime() + daysLeft * DAY),
    },
    ...overrides,
  };
}

describe('judgeCertificate', () => {
  it('passes a verified certificate, naming issuer, names and days left', () => {
    const verdict = judgeCertificate(tls());
    expect(verdict.status).toBe('ok');
    expect(verdict.detail).toContain('issued by "Grid CA"');
    expect(verdict.detail).toContain('DNS:grid.example, DNS:*.grid.example');
    expect(verdict.detail).toContain('(300 days left)');
    expect(verdict.detail).toContain('the CA in /etc/gridpresence/ca.pem');
  });

  it('warns, still passing, under 14 days', () => {
    expect(judgeCertificate(tls({}, 14)).status).toBe('ok');
    const verdict = judgeCertificate(tls({}, 9.5));
    expect(verdict).toMatchObject({ status: 'warn' });
    expect(verdict.detail).toContain('(9 days left)');
    expect(verdict.hint).toContain('renew');
  });

  it('an unknown CA: "wrong caFile?", with the OpenSSL code', () => {
    for (const code of [
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      'SELF_SIGNED_CERT_IN_CHAIN',
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    ]) {
      const verdict = judgeCertificate(tls({ errorCode: code }));
      expect(verdict.status).toBe('fail');
      expect(verdict.detail).toContain(`[${code}]`);
      expect(verdict.hint).toMatch(/^wrong caFile\?/);
    }
    const system = judgeCertificate(
      tls({ caFile: undefined, errorCode: 'SELF_SIGNED_CERT_IN_CHAIN' }),
    );
    expect(system.detail).toContain("not signed by this system's CAs");
  });

  it('a certificate for another name: hostname mismatch, naming what it covers', () => {
    const verdict = judgeCertificate(
      tls({
        errorCode: 'ERR_TLS_CERT_ALTNAME_INVALID',
        certificate: { ...tls().certificate, altNames: ['DNS:other.example'] },
      }),
    );
    expect(verdict.status).toBe('fail');
    expect(verdict.detail).toContain(
      'hostname mismatch: the server certificate names DNS:other.example, not the XMPP domain grid.example',
    );
    expect(verdict.hint).toContain('`domain`');
  });

  it('expired: says when, by this clock', () => {
    const verdict = judgeCertificate(tls({ errorCode: 'CERT_HAS_EXPIRED' }, -3, 400));
    expect(verdict.status).toBe('fail');
    expect(verdict.detail).toMatch(/^the server certificate expired on .* \(3 days ago/);
    expect(verdict.detail).not.toContain('clock is wrong');
  });

  it('"expired" by a clock the clock check distrusts: the clock is wrong', () => {
    const verdict = judgeCertificate(
      tls({ errorCode: 'CERT_HAS_EXPIRED', clockSuspect: 'the clock says 2090' }, -20_000, 400),
    );
    expect(verdict.detail).toMatch(/^clock is wrong/);
    expect(verdict.hint).toContain('set the system time');
  });

  it('not yet valid: the clock is wrong, not the certificate', () => {
    const verdict = judgeCertificate(tls({ errorCode: 'CERT_NOT_YET_VALID' }, 700, -30));
    expect(verdict.status).toBe('fail');
    expect(verdict.detail).toMatch(
      /^clock is wrong: the system clock \(.*\) is before the server certificate's notBefore/,
    );
    expect(verdict.detail).not.toContain('expired');
    expect(verdict.hint).toContain('the certificate itself may be fine');
  });

  it('another problem and a clock before notBefore: says both', () => {
    const verdict = judgeCertificate(
      tls({ errorCode: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 700, -30),
    );
    expect(verdict.detail).toContain('not signed by');
    expect(verdict.detail).toContain('the clock is wrong');
  });
});

describe('judgeHandshakeError', () => {
  const error = (code: string, message: string) => Object.assign(new Error(message), { code });

  it('a plain-text port: not a direct-TLS port', () => {
    const verdict = judgeHandshakeError(
      error('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number'),
      '10.0.0.1:5222',
      'grid.example',
    );
    expect(verdict.detail).toContain('not a direct-TLS (XEP-0368) port');
    expect(verdict.hint).toContain('5223');
  });

  it('a domain the server does not host: unrecognized_name', () => {
    const verdict = judgeHandshakeError(
      error('ERR_SSL_TLSV1_UNRECOGNIZED_NAME', 'tlsv1 unrecognized name'),
      '10.0.0.1:5223',
      'grid.example',
    );
    expect(verdict.detail).toContain('does not serve the XMPP domain grid.example');
  });
});

describe('judgeClock', () => {
  it('passes a plausible time, without milliseconds', () => {
    expect(judgeClock(NOW)).toEqual({
      ok: true,
      detail: `${RELEASE_YEAR}-06-01T12:00:00Z (UTC); not before ${RELEASE_YEAR}, the release year`,
    });
  });

  it('fails a clock before the release year, or absurdly far ahead, saying the clock is wrong', () => {
    const past = judgeClock(new Date('2001-01-01T00:00:05Z'));
    expect(past.ok).toBe(false);
    expect(past.detail).toContain('2001-01-01T00:00:05Z');
    expect(past.detail).toMatch(/the clock is wrong$/);
    const future = judgeClock(new Date(`${RELEASE_YEAR + MAX_YEARS_AHEAD + 1}-01-01T00:00:00Z`));
    expect(future.ok).toBe(false);
    expect(judgeClock(new Date(Number.NaN)).ok).toBe(false);
  });
});

describe('judgeSubscription', () => {
  const SERVICE = 'presence.grid.example';
  const ACCOUNT = 'mtr-0001@grid.example';

  it('passes `from` and `both`: the service sees the presence', () => {
    for (const subscription of ['from', 'both']) {
      const verdict = judgeSubscription([{ jid: SERVICE, subscription }], SERVICE, ACCOUNT);
      expect(verdict.status, subscription).toBe('ok');
    }
  });

  it('fails `to`, `none` and no roster item, saying to register the meter', () => {
    for (const roster of [
      [{ jid: SERVICE, subscription: 'to' }],
      [{ jid: SERVICE, subscription: 'none' }],
      [{ jid: 'operator@grid.example', subscription: 'from' }],
    ]) {
      const verdict = judgeSubscription(roster, SERVICE, ACCOUNT);
      expect(verdict.status).toBe('fail');
      expect(verdict.hint).toContain('presence-service meters add mtr-0001');
    }
    expect(judgeSubscription([], SERVICE, ACCOUNT).detail).toContain(
      `${SERVICE} is not in the roster of ${ACCOUNT}`,
    );
  });

  it('fails when the roster could not be read', () => {
    const verdict = judgeSubscription({ error: 'timeout' }, SERVICE, ACCOUNT);
    expect(verdict.detail).toContain('could not read the roster');
  });
});

describe('judgeFreeSpace', () => {
  const MIB = 1024 * 1024;

  it('needs room for the outbox at its bound plus the audit trail, less what is there', () => {
    const need = worstCaseBytes(4 * MIB);
    expect(need).toBeGreaterThan(4 * MIB);
    const facts = { dir: '/var/lib/meter', outboxMaxBytes: 4 * MIB, usedBytes: 0 };
    expect(judgeFreeSpace({ ...facts, freeBytes: need }).status).toBe('ok');
    const full = judgeFreeSpace({ ...facts, freeBytes: need - 1 });
    expect(full.status).toBe('fail');
    expect(full.detail).toMatch(/^only .* free in \/var\/lib\/meter/);
    expect(full.hint).toContain('telemetry.outboxMaxBytes');
    // What the agent already wrote is on disk: it does not need that room again.
    expect(judgeFreeSpace({ ...facts, freeBytes: need - MIB, usedBytes: MIB }).status).toBe('ok');
  });
});

describe('judgeMeterLink', () => {
  const modbus = { host: '192.0.2.10', port: 502, unitId: 3, timeoutMs: 500 };
  const settings = {
    driver: 'modbus' as const,
    modbus: { ...modbus, pollIntervalMs: 1_000, backoffMaxMs: 30_000 },
  };

  it('the simulated meter needs nothing', async () => {
    expect(await judgeMeterLink({ driver: 'simulated' })).toMatchObject({ status: 'ok' });
  });

  it('a Modbus meter that answers: its identity', async () => {
    const verdict = await judgeMeterLink(settings, async (options) => {
      expect(options).toEqual(modbus);
      return {
        manufacturer: 'Acme',
        model: 'M-1',
        serial: 'S42',
        sunspecModel: 203,
        baseAddress: 40000,
      };
    });
    expect(verdict).toEqual({
      status: 'ok',
      detail:
        'Modbus 192.0.2.10:502 unit 3: Acme M-1, serial S42, SunSpec model 203 at register 40000',
    });
  });

  it("a Modbus meter that does not: the probe's message and what to check", async () => {
    const verdict = await judgeMeterLink(settings, async () => {
      throw new Error('connecting to 192.0.2.10:502 timed out after 500 ms');
    });
    expect(verdict.status).toBe('fail');
    expect(verdict.detail).toBe(
      'no meter at Modbus 192.0.2.10:502 unit 3: connecting to 192.0.2.10:502 timed out after 500 ms',
    );
    expect(verdict.hint).toContain('meter.modbus.host');
  });
});
