import type { AgentConfig } from '../config.js';
import {
  type ModbusProbeOptions,
  type ModbusProbeResult,
  probeModbusMeter,
} from '../meter/modbus/probe.js';
import { type Check, type CheckOutcome, fail, ok, required } from './check.js';

// Check 8: the link to the meter itself. The simulated meter always answers; a Modbus TCP meter
// (SunSpec) is probed once (meter/modbus/probe.ts): connect, find the SunSpec map, read the
// identity and one poll.

/** The part of `config.meter` this check reads. */
type MeterSettings = Pick<AgentConfig['meter'], 'driver' | 'modbus'>;

export type ModbusProbe = (options: ModbusProbeOptions) => Promise<ModbusProbeResult>;

export async function judgeMeterLink(
  meter: MeterSettings,
  probe: ModbusProbe = probeModbusMeter,
): Promise<CheckOutcome> {
  if (meter.driver === 'simulated') return ok('simulated meter (nothing to reach)');
  const settings = meter.modbus;
  if (!settings)
    return fail('meter.driver is modbus but meter.modbus is missing', 'set meter.modbus');
  const where = `${settings.host}:${settings.port} unit ${settings.unitId}`;
  try {
    const found = await probe({
      host: settings.host,
      port: settings.port,
      unitId: settings.unitId,
      timeoutMs: settings.timeoutMs,
      ...(settings.baseAddress !== undefined ? { baseAddress: settings.baseAddress } : {}),
    });
    return ok(
      `Modbus ${where}: ${found.manufacturer} ${found.model}, serial ${found.serial}, ` +
        `SunSpec model ${found.sunspecModel} at register ${found.baseAddress}`,
    );
  } catch (error) {
    return fail(
      `no meter at Modbus ${where}: ${(error as Error)?.message ?? String(error)}`,
      'check meter.modbus.host, port and unitId, that the meter is powered and its Modbus TCP ' +
        'server is enabled, and the cable/network between this device and the meter',
    );
  }
}

export const meterCheck: Check = {
  name: 'meter',
  needs: ['config'],
  // The probe makes several requests, each bounded by meter.modbus.timeoutMs.
  timeoutMs(ctx, baseMs) {
    const perRequest = ctx.config?.meter.modbus?.timeoutMs ?? 0;
    return Math.max(baseMs, 10 * perRequest + 1_000);
  },
  timeoutHint:
    'the meter answers too slowly or not at all: check meter.modbus.timeoutMs and the link',
  async run(ctx) {
    return judgeMeterLink(required(ctx.config, 'the config').meter);
  },
};
