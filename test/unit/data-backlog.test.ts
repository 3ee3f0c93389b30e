import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from '@xmpp/client';
import { type Element, Parser } from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import { createSimulatedMeter } from '../../meter-agent/meter/simulated-meter.js';
import { startTelemetry } from '../../meter-agent/telemetry/start-telemetry.js';
import { createOutboxBacklog } from '../../presence-service/data/outbox-backlog.js';
import { silentLogger } from '../../src/log.js';
import {
  buildDataElement,
  NS_DATA,
  parseDataElement,
  parseDataMessage,
  type ReadingItem,
  validateDataItem,
} from '../../src/protocol/index.js';
import { waitFor } from '../../src/stack/wait.js';

// The outbox backlog a reading reports (our extension, docs/protocol.md "Data"): on the wire,
// from the agent's outbox, and as the service keeps it for the metrics.

const reading: ReadingItem = {
  kind: 'reading',
  ts: '2026-11-27T14:00:00Z',
  seq: 41,
  values: [{ id: '1-0:1.8.0', value: '12345.678', unit: 'kWh' }],
};

/** Through text and back, as the other side of the wire sees it. */
function reparse(element: Element): Element {
  const parser = new Parser();
  let parsed: Element | undefined;
  parser.on('element', (child: Element) => {
    parsed ??= child;
  });
  parser.write(`<wire>${element.toString()}</wire>`);
  if (!parsed) throw new Error(`did not parse: ${element.toString()}`);
  return parsed;
}

const withBacklog = (backlog: string) => {
  const element = buildDataElement(reading);
  element.attrs.backlog = backlog;
  return element;
};

describe('backlog on the wire', () => {
  it('builds backlog="N" and reads it back, 0 included', () => {
    for (const backlog of [0, 1, 9_999]) {
      const element = buildDataElement({ ...reading, backlog });
      expect(element.attrs.backlog).toBe(String(backlog));
      expect(parseDataElement(reparse(element))).toEqual({
        ok: true,
        value: { ...reading, backlog },
      });
    }
  });

  it('goes with dropped', () => {
    const element = buildDataElement({ ...reading, dropped: 3, backlog: 12 });
    expect(element.attrs).toMatchObject({ dropped: '3', backlog: '12' });
    expect(parseDataElement(reparse(element))).toEqual({
      ok: true,
      value: { ...reading, dropped: 3, backlog: 12 },
    });
  });

  it('is optional: a reading without it (an older agent) parses as before', () => {
    const element = buildDataElement(reading);
    expect(element.attrs.backlog).toBeUndefined();
    const parsed = parseDataElement(reparse(element));
    expect(parsed).toEqual({ ok: true, value: reading });
    expect(parsed.ok && 'backlog' in parsed.value).toBe(false);
  });

  it('refuses a backlog that is not a non-negative integer, naming the attribute', () => {
    for (const bad of ['-1', '1.5', 'many', '', '1e3']) {
      const parsed = parseDataElement(withBacklog(bad));
      expect(parsed.ok).toBe(false);
      expect(!parsed.ok && parsed.error).toMatch(/^reading\/@backlog: /);
    }
  });

  it('is validated like the rest when read back from the outbox file', () => {
    expect(validateDataItem({ ...reading, backlog: 5 }).ok).toBe(true);
    expect(validateDataItem({ ...reading, backlog: -5 }).ok).toBe(false);
  });
});

describe("the agent's readings carry the outbox backlog", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('counts the items waiting unacknowledged when the reading is made', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gp-backlog-'));
    dirs.push(dataDir);
    const sent: Element[] = [];
    const streamManagement = Object.assign(new EventEmitter(), { enabled: true });
    const xmpp = Object.assign(new EventEmitter(), {
      streamManagement,
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
      dataDir,
      settings: { intervalS: 1, outboxMaxBytes: 1024 * 1024 },
      logger: silentLogger(),
    });
    const readings = () =>
      sent.flatMap((stanza) => {
        const parsed = parseDataMessage(stanza);
        return parsed.ok && parsed.value.item.kind === 'reading' ? [parsed.value.item] : [];
      });
    try {
      meter.inject('sag');
      meter.inject('swell');
      telemetry.setReady(true);
      await waitFor('a reading', () => readings().length === 1, 3_000, 10);
      // the two events, sent but not acknowledged (the reading itself is not counted)
      expect(readings()[0]?.backlog).toBe(2);

      // XEP-0198: the server acknowledges everything sent so far
      for (const stanza of [...sent]) streamManagement.emit('ack', stanza);
      await waitFor('the outbox to empty', () => telemetry.outbox.items === 0, 2_000, 5);
      await waitFor('the next reading', () => readings().length === 2, 3_000, 10);
      expect(readings()[1]?.backlog).toBe(0);
      expect(sent.at(-1)?.getChild('reading', NS_DATA)?.attrs.backlog).toBe('0');
    } finally {
      await telemetry.stop();
    }
  });
});

describe("the service's memory of each meter's backlog", () => {
  it('keeps the latest per meter by data seq, and sums it up', () => {
    const backlog = createOutboxBacklog();
    expect(backlog.summary()).toEqual({ reporting: 0, backlogged: 0, items: 0, max: 0 });
    backlog.report('m-1', 10, 4);
    backlog.report('m-1', 9, 100); // a late reading from the outbox: older news
    backlog.report('m-2', 1, 0);
    backlog.report('m-3', 5, 2);
    backlog.report('m-3', 6, 1);
    expect(backlog.of('m-1')).toBe(4);
    expect(backlog.of('m-3')).toBe(1);
    expect(backlog.summary()).toEqual({ reporting: 3, backlogged: 2, items: 5, max: 4 });
    backlog.forget('m-1');
    expect(backlog.of('m-1')).toBeUndefined();
    expect(backlog.summary()).toEqual({ reporting: 2, backlogged: 1, items: 1, max: 1 });
  });
});
