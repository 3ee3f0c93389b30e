// The meter driver the config names (meter.driver): the simulated meter, or a SunSpec meter
// over Modbus TCP (docs/modbus.md). The agent talks to either through MeterModel; only the
// simulated one takes injections (`meter-agent inject`), the others refuse them by name.

import type { Logger } from '../../src/log.js';
import type { AgentConfig } from '../config.js';
import type { SimulationInjection } from './injections.js';
import type { MeterModel } from './model.js';

export type MeterDriver = AgentConfig['meter']['driver'];

export interface AgentMeter extends MeterModel {
  readonly driver: MeterDriver;
  /** The simulated meter does it; every other driver throws an Error saying why not. */
  inject(name: SimulationInjection): void;
}

/**
 * Each driver is loaded only when the config names it: a field agent on a Modbus meter does not
 * carry the simulator, and a simulated one not the Modbus library (about 1.7 MB of heap).
 */
export async function createMeter(
  config: Pick<AgentConfig, 'meterId' | 'kind' | 'meter'>,
  deps: { logger: Logger },
): Promise<AgentMeter> {
  const { meter } = config;
  if (meter.driver === 'modbus') {
    const modbus = meter.modbus;
    // The config schema refuses this already; the check keeps the types honest.
    if (modbus === undefined)
      throw new Error("meter.modbus is required when meter.driver is 'modbus'");
    const { createModbusMeter } = await import('./modbus/modbus-meter.js');
    const driver = createModbusMeter({
      meterId: config.meterId,
      kind: config.kind,
      host: modbus.host,
      port: modbus.port,
      unitId: modbus.unitId,
      ...(modbus.baseAddress !== undefined ? { baseAddress: modbus.baseAddress } : {}),
      pollIntervalMs: modbus.pollIntervalMs,
      timeoutMs: modbus.timeoutMs,
      backoffMaxMs: modbus.backoffMaxMs,
      nominalVoltageV: meter.nominalVoltageV,
      logger: deps.logger,
    });
    return Object.assign(driver, {
      driver: 'modbus' as const,
      inject(name: SimulationInjection): never {
        throw new Error(
          `injection '${name}' needs the simulated meter; this agent's meter.driver is 'modbus' ` +
            '(change the real meter, or its Modbus server, instead)',
        );
      },
    });
  }
  const { createSimulatedMeter } = await import('./simulated-meter.js');
  const simulated = createSimulatedMeter({
    meterId: config.meterId,
    kind: config.kind,
    seed: meter.seed,
    eventRatePerHour: meter.eventRatePerHour,
    nominalVoltageV: meter.nominalVoltageV,
    utcOffsetMinutes: meter.utcOffsetMinutes,
    ...(meter.pvPeakKw !== undefined ? { pvPeakKw: meter.pvPeakKw } : {}),
  });
  return Object.assign(simulated, { driver: 'simulated' as const });
}
