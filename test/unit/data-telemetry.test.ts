import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@xmpp/client';
import type { Element } from '@xmpp/xml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createSimulatedMeter } from '../../meter-agent/meter/simulated-meter.js';
import { createReportingSchedule } from '../../meter-agent/telemetry/reporting.js';
import { startTelemetry } from '../../meter-agent/telemetry/start-telemetry.js';
import { silentLogger } from '../../src/log.js';
import { NS_DATA, NS_DELAY, parseDataMessage } from '../../src/protocol/index.js';
import { waitFor } from '../../src/stack/wait.js';

const dirs: string[] = [];
afterEach(() => {
  vi.useRealTimers();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'gp-telemetry-'));
  dirs.push(dir);
  return dir;
};

describe('the reporting interval (PROTOCOL §4 reporting)', () => {
  it('ticks every interval, changes at once, and survives a restart', () => {
    vi.useFakeTimers();
    const dataDir = tempDir();
    let ticks = 0;
    const schedule = createReportingSchedule({
      dataDir,
      configuredS: 60,
      onTick: () => ticks++,
      logger: silentLogger(),
    });
    schedule.start();
    vi.advanceTimersByTime(180_000);
    expect(ticks).toBe(3);
    schedule.setIntervalS(10);
    vi.advanceTimersByTime(30_000);
    expect(ticks).toBe(6);
    schedule.stop();
    vi.advanceTimersByTime(60_000);
    expect(ticks).toBe(6);

    const again = createReportingSchedule({
      dataDir,
      configuredS: 60,
      onTick: () => {},
      logger: silentLogger(),
    });
    expect(again.intervalS).toBe(10);
    // an edited config is a newer intent than the operator's old setting
    const edited = createReportingSchedule({
      dataDir,
      configuredS: 900,
      onTick: () => {},
      logger: silentLogger(),
    });
    expect(edited.intervalS).toBe(900);
  });

  it('refuses an interval outside 5-86400 s', () => {
    const schedule = createReportingSchedule({
      dataDir: tempDir(),
      configuredS: 60,
      onTick: () => {},
      logger: silentLogger(),
    });
    for (const bad of [4, 86_401, 12.5, Number.NaN]) {
      expect(() => schedule.setIntervalS(bad)).toThrow(RangeError);
    }
    expect(schedule.intervalS).toBe(60);
  });
});

describe('startTelemetry', () => {
  it('sends readings at the interval, events at once and audit entries, through the outbox', async () => {
    const sent: Element[] = [];
    const xmpp = Object.assign(new EventEmitter(), {
      streamManagement: Object.assign(new EventEmitter(), { enabled: true }),
      send: async (stanza: Element) => {
        sent.push(stanza);
      },
    });
    const meter = createSimulatedMeter({
      meterId: 'mtr-1',
      kind: 'revenue-meter',
      seed: 1,
      eventRatePerHour: 0,
      nominalVoltageV: 230,
    });
    const telemetry = startTelemetry({
      xmpp: xmpp as unknown as Client,
      meter,
      meterId: 'mtr-1',
      serviceJid: 'presence.grid.example',
      dataDir: tempDir(),
      settings: { intervalS: 1, outboxMaxBytes: 1024 * 1024 },
      logger: silentLogger(),
    });
    try {
      meter.inject('sag'); // offline: queued on disk
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(sent).toHaveLength(0);
      telemetry.setReady(true);
      await waitFor('the queued event', () => sent.length === 1, 2_000, 5);
      expect(sent[0]?.getChild('event', NS_DATA)?.attrs).toMatchObject({ type: 'sag', seq: '1' });
      expect(sent[0]?.getChild('delay', NS_DELAY)).toBeDefined();

      await waitFor('a reading', () => sent.length === 2, 2_000, 10);
      const reading = parseDataMessage(sent[1] as Element);
      expect(reading.ok && reading.value.item).toMatchObject({ kind: 'reading', seq: 2 });
      expect(reading.ok && reading.value.delay).toBeUndefined();
      expect(
        reading.ok && reading.value.item.kind === 'reading' && reading.value.item.values,
      ).toEqual(
        meter.readRegisters().map(() => expect.objectContaining({ id: expect.any(String) })),
      );

      telemetry.sendAudit({
        ts: new Date().toISOString(),
        from: 'op@grid.example/pc',
        via: 'chat',
        command: 'Relay Open!',
        args: { action: ['open'], note: ['line one\nline two'], empty: [] },
        outcome: 'ok',
        detail: 'relay opened',
      });
      await waitFor('the audit entry', () => sent.length === 3, 2_000, 5);
      const audit = parseDataMessage(sent[2] as Element);
      expect(audit.ok && audit.value.item).toMatchObject({
        kind: 'audit',
        seq: 3,
        command: 'relay-open',
        args: { action: ['open'], note: ['line one line two'] },
      });
      expect(telemetry.outbox.items).toBe(3); // nothing acknowledged yet
    } finally {
      telemetry.setReady(false); // nobody will acknowledge: do not wait for it
      await telemetry.stop();
      meter.stop();
    }
  });
});
