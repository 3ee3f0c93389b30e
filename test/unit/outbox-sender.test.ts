import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import xml, { type Element } from '@xmpp/xml';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createDataSender,
  type DataLink,
  type DataSender,
} from '../../meter-agent/telemetry/data-sender.js';
import { type DataDraft, type Outbox, openOutbox } from '../../meter-agent/telemetry/outbox.js';
import { silentLogger } from '../../src/log.js';
import { NS_DATA, NS_DELAY, parseDataMessage } from '../../src/protocol/index.js';
import { waitFor } from '../../src/stack/wait.js';

// The outbox's XMPP edge against a fake xmpp.js client: what goes out when, with which <delay/>,
// and what an XEP-0198 ack, a fail (new session) or a bounce from the server does.

const SERVICE = 'presence.grid.example';

/** The parts of an xmpp.js Client the sender uses; sent stanzas are recorded, acks are manual. */
class FakeLink extends EventEmitter implements DataLink {
  readonly sent: Element[] = [];
  /** xmpp.js's outbound queue (XEP-0198): what the server has not acknowledged yet. */
  readonly queue: Element[] = [];
  readonly streamManagement = Object.assign(new EventEmitter(), { enabled: true });
  onSend: (stanza: Element) => void = () => {};

  send(stanza: Element): Promise<unknown> {
    this.onSend(stanza);
    this.sent.push(stanza);
    if (this.streamManagement.enabled) this.queue.push(stanza);
    return Promise.resolve();
  }
  /** XEP-0198 `<a h/>` for the first `n` queued stanzas. */
  ack(n = this.queue.length): void {
    for (const stanza of this.queue.splice(0, n)) this.streamManagement.emit('ack', stanza);
  }
  /** A new session instead of a resumption: xmpp.js fails its whole queue. */
  failQueue(): void {
    for (const stanza of this.queue.splice(0)) this.streamManagement.emit('fail', stanza);
  }
  /** Prosody's answer to a message for a disconnected component. */
  bounce(stanza: Element): void {
    this.emit(
      'stanza',
      xml(
        'message',
        { type: 'error', from: SERVICE, id: stanza.attrs.id },
        xml(
          'error',
          { type: 'wait' },
          xml('remote-server-timeout', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' }),
        ),
      ),
    );
  }
  seqsSent(from = 0): Array<{ seq: number; delayed: boolean }> {
    return this.sent.slice(from).map((s) => ({
      seq: Number(s.getChild('reading', NS_DATA)?.attrs.seq ?? s.getChildElements()[0]?.attrs.seq),
      delayed: s.getChild('delay', NS_DELAY) !== undefined,
    }));
  }
}

const dirs: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function setUp(dir = mkdtempSync(join(tmpdir(), 'gp-sender-'))) {
  if (!dirs.includes(dir)) dirs.push(dir);
  const link = new FakeLink();
  const outbox = openOutbox({ dir, maxBytes: 1024 * 1024, logger: silentLogger() });
  const sender = createDataSender({
    xmpp: link,
    outbox,
    serviceJid: SERVICE,
    logger: silentLogger(),
    backoff: { next: () => 20, reset() {}, attempts: 0 },
  });
  const stop = async () => {
    await sender.stop(0);
    await outbox.close();
  };
  cleanups.push(stop);
  return { dir, link, outbox, sender, stop };
}

let clock = Date.parse('2026-11-27T14:00:00Z');
const reading = (): DataDraft => {
  clock += 60_000;
  return {
    kind: 'reading',
    ts: new Date(clock).toISOString(),
    values: [{ id: '1-0:1.8.0', value: String(clock / 1e6), unit: 'kWh' }],
  };
};

/** What start-telemetry does with each new item. */
async function produce(outbox: Outbox, sender: DataSender, count = 1): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < count; i++) {
    const item = await outbox.put(reading());
    if (item) {
      sender.notify(item.seq);
      seqs.push(item.seq);
    }
  }
  return seqs;
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('sending from the outbox', () => {
  it('sends a new item at once, without <delay/>, only after it is on disk', async () => {
    const { dir, link, outbox, sender } = setUp();
    const onDiskWhenSent: boolean[] = [];
    link.onSend = (stanza) => {
      const seq = stanza.getChildElements()[0]?.attrs.seq;
      onDiskWhenSent.push(readFileSync(join(dir, 'outbox.jsonl'), 'utf8').includes(`"seq":${seq}`));
    };
    sender.setReady(true);
    await produce(outbox, sender, 3);
    await settle();
    expect(link.seqsSent()).toEqual([
      { seq: 1, delayed: false },
      { seq: 2, delayed: false },
      { seq: 3, delayed: false },
    ]);
    expect(onDiskWhenSent).toEqual([true, true, true]);
    const message = link.sent[0] as Element;
    expect(message.attrs).toEqual({ type: 'normal', to: SERVICE, id: 'd1' });
    expect(parseDataMessage(message).ok).toBe(true);
  });

  it('removes an item only when the server acknowledges it (XEP-0198)', async () => {
    const { link, outbox, sender } = setUp();
    sender.setReady(true);
    await produce(outbox, sender, 3);
    await settle();
    expect(outbox.stats.items).toBe(3);
    link.ack(2);
    expect(outbox.pending().map((i) => i.seq)).toEqual([3]);
    expect(sender.inFlight).toBe(1);
  });

  it('sends nothing while offline; on reconnect, all of it in order with <delay stamp=ts/>', async () => {
    const { link, outbox, sender } = setUp();
    await produce(outbox, sender, 3);
    await settle();
    expect(link.sent).toHaveLength(0);
    sender.setReady(true);
    expect(link.seqsSent()).toEqual([1, 2, 3].map((seq) => ({ seq, delayed: true })));
    const items = outbox.pending();
    link.sent.forEach((stanza, i) => {
      expect(stanza.getChild('delay', NS_DELAY)?.attrs.stamp).toBe(items[i]?.ts);
    });
  });

  it('replays what was in flight after a new session, and sends nothing twice after a resumption', async () => {
    const { link, outbox, sender } = setUp();
    sender.setReady(true);
    await produce(outbox, sender, 2); // 1, 2 in flight
    await settle();
    sender.setReady(false);
    await produce(outbox, sender, 1); // 3 queued while offline
    await settle();

    // resumption: xmpp.js resends 1 and 2 itself; we add only 3
    sender.setReady(true);
    expect(link.seqsSent(2)).toEqual([{ seq: 3, delayed: true }]);

    sender.setReady(false);
    // a new session: xmpp.js reports its queue as failed, everything unacknowledged goes again
    link.failQueue();
    sender.setReady(true);
    expect(link.seqsSent(3)).toEqual([1, 2, 3].map((seq) => ({ seq, delayed: true })));
    link.ack();
    expect(outbox.stats.items).toBe(0);
  });

  it('replays in order with <delay/> after a restart on the same directory', async () => {
    const first = setUp();
    first.sender.setReady(true);
    await produce(first.outbox, first.sender, 4);
    await settle();
    first.link.ack(1); // only seq 1 reached the server
    await first.stop();

    const second = setUp(first.dir);
    expect(second.outbox.pending().map((i) => i.seq)).toEqual([2, 3, 4]);
    second.sender.setReady(true);
    expect(second.link.seqsSent()).toEqual([2, 3, 4].map((seq) => ({ seq, delayed: true })));
    const next = await produce(second.outbox, second.sender, 1);
    await settle();
    expect(next).toEqual([5]);
    expect(second.link.seqsSent(3)).toEqual([{ seq: 5, delayed: false }]);
  });
});

describe('a service that is not there (the server bounces)', () => {
  it('keeps bounced items, holds new ones, probes with the oldest, then sends the rest in order', async () => {
    const { link, outbox, sender } = setUp();
    sender.setReady(true);
    await produce(outbox, sender, 2);
    await settle();
    // Prosody bounces each message before acknowledging it
    for (const stanza of link.sent) link.bounce(stanza);
    link.ack();
    expect(sender.held).toBe(true);
    expect(outbox.pending().map((i) => i.seq)).toEqual([1, 2]);

    await produce(outbox, sender, 1); // 3: held, not sent
    await settle();
    expect(link.seqsSent(2)).toEqual([]);

    // the probe: only the oldest, bounced again
    await waitFor('a probe', () => link.sent.length === 3, 1000, 5);
    expect(link.seqsSent(2)).toEqual([{ seq: 1, delayed: true }]);
    link.bounce(link.sent[2] as Element);
    link.ack();

    // the next probe gets through: the rest follows in order
    await waitFor('a second probe', () => link.sent.length === 4, 1000, 5);
    expect(link.seqsSent(3)).toEqual([{ seq: 1, delayed: true }]);
    link.ack();
    expect(sender.held).toBe(false);
    expect(link.seqsSent(4)).toEqual([2, 3].map((seq) => ({ seq, delayed: true })));
    link.ack();
    expect(outbox.stats.items).toBe(0);
  });

  it('ignores acks and errors that are not data messages', async () => {
    const { link, outbox, sender } = setUp();
    sender.setReady(true);
    await produce(outbox, sender, 1);
    await settle();
    link.streamManagement.emit('ack', xml('presence', { id: 'd1' }));
    link.streamManagement.emit('ack', xml('message', { id: 'd1' }, xml('body', {}, 'hi')));
    link.emit('stanza', xml('message', { type: 'error', from: 'someone@else', id: 'd1' }));
    expect(outbox.stats.items).toBe(1);
    expect(sender.held).toBe(false);
  });
});
