import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import xml from '@xmpp/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentConfig } from '../../meter-agent/config.js';
import { controlRequest } from '../../meter-agent/control/control-client.js';
import { probeModbusMeter } from '../../meter-agent/meter/modbus/probe.js';
import { OBIS } from '../../meter-agent/meter/obis.js';
import { findFreePorts } from '../../src/harness/ports.js';
import { buildCommandRequest } from '../../src/protocol/index.js';
import type { Stack } from '../../src/stack/start-stack.js';
import { waitFor } from '../../src/stack/wait.js';
import { getJson, waitForRecordedState } from './helpers/api.js';
import {
  requirePymodbus,
  type SunSpecServer,
  startSunSpecServer,
  sunspecFixture,
} from './helpers/sunspec-server.js';
import { startTestStack } from './helpers/test-stack.js';
import { connectUser, type XmppUser } from './helpers/xmpp-user.js';

// The Modbus meter driver end to end (docs/modbus.md): real Prosody, real agent processes, the
// real service, and a real Modbus TCP server (pymodbus) serving SunSpec maps from the fixtures:
// unit 1 a three-phase wye meter (model 203 at 40000), unit 2 a single-phase meter (model 201
// at 0, found by discovery). Readings carry the scaled values; the power-failure bit makes the
// meter restricted/on-battery with interruption events; a crashed Modbus server makes it
// unavailable/sensor-failure while the agent keeps running, and its return makes it available;
// the relay command, which a SunSpec meter cannot carry out, is refused feature-not-implemented.

const WYE = 'mtr-0001';
const SINGLE = 'mtr-0002';
const UNITS = {
  1: sunspecFixture('meter-203-wye.json'),
  2: sunspecFixture('meter-201-single.json'),
};
const POWER_FAILURE = 2 ** 2;

interface Reading {
  seq: number;
  values: Array<{ id: string; value: string; unit: string }>;
}
interface EventRow {
  seq: number;
  type: string;
  detail: string | null;
  durationMs: number | null;
}

let stack: Stack;
let server: SunSpecServer;
let modbusPort: number;
let operator: XmppUser;

const agentDir = (id: string) => stack.agents.get(id)?.dataDir as string;
const since = 'since=2000-01-01T00:00:00Z&limit=10000';
const readings = async (id: string) =>
  (await getJson<{ readings: Reading[] }>(stack, `/api/meters/${id}/readings?${since}`)).readings;
const events = async (id: string) =>
  (await getJson<{ events: EventRow[] }>(stack, `/api/meters/${id}/events?${since}`)).events;

/** The newest reading that has a value for `id`, as id → value. */
async function latestValues(meterId: string, id: string): Promise<Map<string, string>> {
  return waitFor(
    `a reading of ${meterId} with ${id}`,
    async () => {
      const withValue = (await readings(meterId)).filter((r) => r.values.some((v) => v.id === id));
      const last = withValue.at(-1);
      return last && new Map(last.values.map((v) => [v.id, v.value]));
    },
    15_000,
    200,
  );
}

beforeAll(async () => {
  requirePymodbus();
  [modbusPort = 0] = await findFreePorts(1);
  server = await startSunSpecServer(modbusPort, UNITS);
  stack = await startTestStack(2);
  for (const [meterId, unitId] of [
    [WYE, 1],
    [SINGLE, 2],
  ] as const) {
    const configFile = stack.agents.get(meterId)?.configFile as string;
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as AgentConfig;
    config.meter = {
      ...config.meter,
      driver: 'modbus',
      modbus: {
        host: '127.0.0.1',
        port: modbusPort,
        unitId,
        pollIntervalMs: 200,
        timeoutMs: 500,
        backoffMaxMs: 1_000,
      },
    };
    config.telemetry = { ...config.telemetry, intervalS: 1 };
    writeFileSync(configFile, JSON.stringify(config), { mode: 0o600 });
    stack.startAgent(meterId);
  }
  await Promise.all([WYE, SINGLE].map((id) => waitForRecordedState(stack, id, 'available')));
  operator = await connectUser(stack, 'operator', stack.operator.password);
  await operator.xmpp.send(xml('presence'));
}, 90_000);

afterAll(async () => {
  await operator?.stop();
  await stack?.stop();
  await server?.kill();
});

describe('a SunSpec meter over Modbus TCP', () => {
  it('probes the meter as meter-agent doctor will', async () => {
    expect(
      await probeModbusMeter({ host: '127.0.0.1', port: modbusPort, unitId: 1, timeoutMs: 1000 }),
    ).toEqual({
      manufacturer: 'Gridpresence Labs',
      model: 'GP-M203',
      serial: 'SN-203-0001',
      sunspecModel: 203,
      baseAddress: 40_000,
    });
    expect(
      await probeModbusMeter({ host: '127.0.0.1', port: modbusPort, unitId: 2, timeoutMs: 1000 }),
    ).toMatchObject({ sunspecModel: 201, baseAddress: 0, serial: 'SN-201-0042' });
    await expect(
      probeModbusMeter({
        host: '127.0.0.1',
        port: modbusPort,
        unitId: 1,
        baseAddress: 50_000,
        timeoutMs: 1000,
      }),
    ).rejects.toThrow(
      `unit 1 at 127.0.0.1:${modbusPort}: no SunSpec marker "SunS" at register 50000`,
    );
  });

  it('says why a probe fails: connection refused, timed out', async () => {
    const [closedPort = 0] = await findFreePorts(1);
    await expect(
      probeModbusMeter({ host: '127.0.0.1', port: closedPort, unitId: 1, timeoutMs: 1000 }),
    ).rejects.toThrow(`connecting to 127.0.0.1:${closedPort}: connection refused`);

    // Accepts the connection and never answers a request.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      await expect(
        probeModbusMeter({ host: '127.0.0.1', port, unitId: 1, timeoutMs: 300 }),
      ).rejects.toThrow(
        `reading 2 registers at 40000 from unit 1 at 127.0.0.1:${port}: timed out after 300 ms`,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('reports the scaled values of a three-phase wye meter (model 203)', async () => {
    const values = await latestValues(WYE, OBIS.voltageL1);
    expect(Object.fromEntries(values)).toEqual({
      [OBIS.energyImport]: '12345.670',
      [OBIS.energyExport]: '43.210',
      [OBIS.powerImport]: '3.456',
      [OBIS.powerExport]: '0.000',
      [OBIS.voltageL1]: '230.1',
      [OBIS.voltageL2]: '229.8',
      [OBIS.voltageL3]: '230.7',
      [OBIS.currentL1]: '5.12',
      [OBIS.currentL2]: '4.98',
      [OBIS.currentL3]: '5.15',
      [OBIS.frequency]: '50.020',
      [OBIS.powerFactor]: '0.960',
      [OBIS.sagCount]: '0',
      [OBIS.swellCount]: '0',
      [OBIS.meterId]: WYE,
    });
  });

  it('reports only the phase a single-phase meter (model 201) has, and its export', async () => {
    const values = await latestValues(SINGLE, OBIS.voltageL1);
    expect(values.get(OBIS.voltageL1)).toBe('231.2');
    expect(values.get(OBIS.currentL1)).toBe('7.31');
    expect(values.has(OBIS.voltageL2)).toBe(false);
    expect(values.get(OBIS.powerImport)).toBe('0.000');
    expect(values.get(OBIS.powerExport)).toBe('1.250');
    expect(values.get(OBIS.powerFactor)).toBe('-0.950');
    expect(values.get(OBIS.frequency)).toBe('49.980');
    expect(values.get(OBIS.energyImport)).toBe('987.654');
  });

  it('follows the power-failure bit: on-battery with interruption start and end events', async () => {
    await server.setPoint(1, 203, 'Evt', POWER_FAILURE);
    await waitForRecordedState(stack, WYE, 'restricted', 'on-battery');
    await server.setPoint(1, 203, 'Evt', 0);
    await waitForRecordedState(stack, WYE, 'available');
    const interruptions = await waitFor(
      'the interruption events',
      async () => {
        const rows = (await events(WYE)).filter((e) => e.type === 'interruption');
        return rows.length >= 2 && rows;
      },
      10_000,
      200,
    );
    // One event per edge, not one per poll while the bit stayed set.
    expect(interruptions.map((e) => e.detail)).toEqual(['start', 'end']);
    expect(interruptions[1]?.durationMs).toBeGreaterThan(0);
    expect((await events(SINGLE)).filter((e) => e.type === 'interruption')).toEqual([]);
  });

  it('refuses the relay command: a SunSpec meter has none (feature-not-implemented)', async () => {
    const meterJid = `${WYE}@${stack.prosody.domain}/agent`;
    const error = await operator.xmpp.iqCaller
      .request(
        xml(
          'iq',
          { type: 'set', to: meterJid },
          buildCommandRequest({
            node: 'urn:gridpresence:cmd:relay',
            form: { action: ['open'], confirm: ['true'] },
          }),
        ),
      )
      .then(
        () => undefined,
        (e: { type?: string; condition?: string }) => e,
      );
    expect(error).toMatchObject({ type: 'cancel', condition: 'feature-not-implemented' });

    const before = operator.stanzas.length;
    await operator.xmpp.send(
      xml('message', { to: meterJid, type: 'chat' }, xml('body', {}, 'relay open confirm')),
    );
    const answer = await waitFor(
      'the chat answer',
      () =>
        operator.stanzas
          .slice(before)
          .find((s) => s.is('message') && s.attrs.from === meterJid && s.getChild('body')),
      10_000,
    );
    expect(answer.getChildText('body')).toBe(
      'Refused (feature-not-implemented): this meter has no service relay',
    );
  });

  it('refuses simulation injections, which only the simulated meter takes', async () => {
    await expect(
      controlRequest(agentDir(WYE), { op: 'inject', name: 'sensor-failure' }),
    ).rejects.toThrow(/needs the simulated meter; this agent's meter.driver is 'modbus'/);
  });

  it('is unavailable/sensor-failure while the Modbus server is gone, and recovers', async () => {
    await server.kill();
    await Promise.all(
      [WYE, SINGLE].map((id) => waitForRecordedState(stack, id, 'unavailable', 'sensor-failure')),
    );
    // The agents keep running and connected; their status says why.
    expect(stack.agents.get(WYE)?.process?.running).toBe(true);
    const status = (await controlRequest(agentDir(WYE), { op: 'status' })) as {
      connected: boolean;
      condition: { sensorFailure: boolean };
    };
    expect(status).toMatchObject({ connected: true, condition: { sensorFailure: true } });

    server = await startSunSpecServer(modbusPort, UNITS);
    await Promise.all(
      [WYE, SINGLE].map((id) => waitForRecordedState(stack, id, 'available', undefined, 15_000)),
    );
    expect(stack.agents.get(SINGLE)?.process?.running).toBe(true);
  });
});
