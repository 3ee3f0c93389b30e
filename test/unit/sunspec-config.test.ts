import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadAgentConfig } from '../../meter-agent/config.js';
import { createMeter } from '../../meter-agent/meter/create-meter.js';
import { silentLogger } from '../../src/log.js';

// The agent's `meter` config for the Modbus driver (docs/modbus.md, docs/configuration.md): its
// defaults, the superRefine that asks for `modbus` exactly when the driver is modbus, and the
// factory choosing the driver from it.

const dir = mkdtempSync(join(tmpdir(), 'gp-sunspec-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BASE = {
  meterId: 'mtr-0001',
  domain: 'grid.example',
  xmpp: { host: 'xmpp.grid.example', password: 'secret' },
  dataDir: '/var/lib/gridpresence',
};

function load(meter: unknown) {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify({ ...BASE, ...(meter === undefined ? {} : { meter }) }));
  return loadAgentConfig(file, {});
}

describe('meter.driver and meter.modbus', () => {
  it('keeps the simulated meter as the default', () => {
    expect(load(undefined).meter).toEqual({
      driver: 'simulated',
      seed: 1,
      eventRatePerHour: 2,
      nominalVoltageV: 230,
      utcOffsetMinutes: 0,
    });
  });

  it('fills the Modbus defaults around the host', () => {
    const { meter } = load({ driver: 'modbus', modbus: { host: '192.0.2.10' } });
    expect(meter.driver).toBe('modbus');
    expect(meter.modbus).toEqual({
      host: '192.0.2.10',
      port: 502,
      unitId: 1,
      pollIntervalMs: 1000,
      timeoutMs: 1000,
      backoffMaxMs: 30_000,
    });
  });

  it('requires meter.modbus when the driver is modbus, naming the key', () => {
    expect(() => load({ driver: 'modbus' })).toThrow(
      `config key 'meter.modbus': required when meter.driver is 'modbus'`,
    );
  });

  it('refuses meter.modbus with the simulated driver, and unknown or bad Modbus keys', () => {
    expect(() => load({ modbus: { host: 'h' } })).toThrow(
      "config key 'meter.driver': meter.modbus is set, so meter.driver must be 'modbus'",
    );
    expect(() => load({ driver: 'modbus', modbus: { host: 'h', unit: 3 } })).toThrow(
      "config key 'meter.modbus.unit'",
    );
    expect(() => load({ driver: 'modbus', modbus: { host: 'h', port: 70_000 } })).toThrow(
      "config key 'meter.modbus.port'",
    );
    expect(() => load({ driver: 'dlms' })).toThrow("config key 'meter.driver'");
  });
});

describe('createMeter', () => {
  it('builds the driver the config names', async () => {
    const simulated = await createMeter(load(undefined), { logger: silentLogger() });
    expect(simulated.driver).toBe('simulated');
    expect(simulated.supportsRelay).toBe(true);

    const modbus = await createMeter(load({ driver: 'modbus', modbus: { host: '127.0.0.1' } }), {
      logger: silentLogger(),
    });
    expect(modbus.driver).toBe('modbus');
    expect(modbus.supportsRelay).toBe(false);
    expect(modbus.supportsLoadLimit).toBe(false);
    expect(() => modbus.inject('sag')).toThrow(
      "injection 'sag' needs the simulated meter; this agent's meter.driver is 'modbus'",
    );
    // Never started: nothing to stop, and stop is idempotent anyway.
    modbus.stop();
  });
});
