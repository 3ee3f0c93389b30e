import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { createBackoff } from '../../src/xmpp/backoff.js';
import {
  type SupervisedEntity,
  superviseConnection,
} from '../../src/xmpp/connection-supervisor.js';

/** An xmpp.js-like entity whose connection attempts the test decides. */
class FakeEntity extends EventEmitter {
  status = 'offline';
  attempts = 0;
  disconnects = 0;
  next: 'online' | 'hang' | 'refused' | 'fatal' | 'late-failure' = 'online';
  /** Rejects the promise of a 'late-failure' attempt. */
  failLate: (error: Error) => void = () => {};
  reconnect = { reconnect: () => this.connect() };
  start() {
    return this.connect();
  }
  async stop() {
    this.status = 'offline';
  }
  /** As xmpp.js: closing the socket ourselves says `disconnecting` first. */
  async disconnect() {
    this.disconnects += 1;
    this.emit('status', 'disconnecting');
    this.status = 'disconnect';
    this.emit('status', 'disconnect');
    this.emit('disconnect');
  }
  /** The server closes the socket (no `disconnecting` from our side). */
  closedByServer() {
    this.status = 'disconnect';
    this.emit('status', 'disconnect');
    this.emit('disconnect');
  }
  private connect(): Promise<void> {
    this.attempts += 1;
    this.status = 'connecting';
    switch (this.next) {
      case 'online':
        this.status = 'online';
        queueMicrotask(() => this.emit('online'));
        return Promise.resolve();
      case 'hang':
        this.status = 'opening';
        return new Promise(() => {});
      case 'refused':
        this.status = 'disconnect';
        return Promise.reject(
          Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
        );
      case 'fatal':
        return Promise.reject(Object.assign(new Error('not-authorized'), { name: 'SASLError' }));
      case 'late-failure':
        this.status = 'connecting';
        return new Promise((_, reject) => {
          this.failLate = reject;
        });
    }
  }
}

function supervise(
  entity: FakeEntity,
  onReady: () => Promise<void> | void = () => {},
  spreadMs = 0,
) {
  const fatal = vi.fn();
  const supervisor = superviseConnection({
    entity: entity as unknown as SupervisedEntity,
    backoff: createBackoff({ baseMs: 100, maxMs: 1000, spreadMs, random: () => 0.5 }),
    logger: silentLogger(),
    isFatal: (e) => (e as Error).name === 'SASLError',
    attemptTimeoutMs: 5_000,
    hooks: { onReady, onFatal: fatal },
  });
  return { supervisor, fatal };
}

describe('connection supervisor', () => {
  afterEach(() => vi.useRealTimers());

  it('retries with backoff after a refused connection, then comes online', async () => {
    vi.useFakeTimers();
    const entity = new FakeEntity();
    entity.next = 'refused';
    const ready = vi.fn();
    const { supervisor } = supervise(entity, ready);
    supervisor.start();
    await vi.advanceTimersByTimeAsync(1);
    expect(entity.attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(100); // first backoff: 75 ms with random 0.5
    expect(entity.attempts).toBe(2);
    entity.next = 'online';
    await vi.advanceTimersByTimeAsync(200);
    expect(entity.attempts).toBe(3);
    expect(ready).toHaveBeenCalledWith(false);
    expect(supervisor.connected).toBe(true);
    await supervisor.stop();
  });

  it('tears down and retries an attempt that never gets online', async () => {
    vi.useFakeTimers();
    const entity = new FakeEntity();
    entity.next = 'hang';
    const { supervisor } = supervise(entity);
    supervisor.start();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(entity.attempts).toBe(1);
    entity.next = 'online';
    await vi.advanceTimersByTimeAsync(1_000);
    expect(entity.disconnects).toBeGreaterThanOrEqual(1);
    expect(entity.attempts).toBe(2);
    expect(supervisor.connected).toBe(true);
    await supervisor.stop();
  });

  it('survives a session set-up that fails, and reconnects', async () => {
    vi.useFakeTimers();
    const entity = new FakeEntity();
    let calls = 0;
    const { supervisor } = supervise(entity, async () => {
      calls += 1;
      if (calls === 1) throw new Error('socket closed while subscribing');
    });
    supervisor.start();
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toBe(2);
    expect(entity.attempts).toBe(2);
    await supervisor.stop();
  });

  it('stops for good on a fatal error', async () => {
    vi.useFakeTimers();
    const entity = new FakeEntity();
    entity.next = 'fatal';
    const { supervisor, fatal } = supervise(entity);
    supervisor.start();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(fatal).toHaveBeenCalledOnce();
    expect(entity.attempts).toBe(1);
  });

  it('spreads the first retry when the server ends a session that held, not when we drop it', async () => {
    vi.useFakeTimers();
    const entity = new FakeEntity();
    const { supervisor } = supervise(entity, () => {}, 10_000);
    supervisor.start();
    await vi.advanceTimersByTimeAsync(1);
    expect(supervisor.connected).toBe(true);

    // The server closes the stream (e.g. it restarts): the retry waits 0.5 × 10 s, not 75 ms.
    entity.closedByServer();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(entity.attempts).toBe(1);
    await vi.advanceTimersByTimeAsync(2);
    expect(entity.attempts).toBe(2);
    expect(supervisor.connected).toBe(true);

    // Our own keep-alive drops the link: the plain backoff (75 ms with random 0.5).
    supervisor.forceReconnect('keep-alive ping unanswered');
    await vi.advanceTimersByTimeAsync(76);
    expect(entity.attempts).toBe(3);

    // xmpp.js's XEP-0198 timeout closes the link itself: also the plain backoff.
    await entity.disconnect();
    await vi.advanceTimersByTimeAsync(76);
    expect(entity.attempts).toBe(4);

    // A stream error from the server (Prosody's system-shutdown), then xmpp.js closes: spread.
    entity.emit('error', Object.assign(new Error('system-shutdown'), { name: 'StreamError' }));
    await entity.disconnect();
    await vi.advanceTimersByTimeAsync(4_999);
    expect(entity.attempts).toBe(4);
    await vi.advanceTimersByTimeAsync(2);
    expect(entity.attempts).toBe(5);
    await supervisor.stop();
  });

  it('ignores the late failure of an attempt it already gave up', async () => {
    vi.useFakeTimers();
    const entity = new FakeEntity();
    entity.next = 'late-failure';
    const { supervisor } = supervise(entity);
    supervisor.start();
    // Attempt 1 hangs in connect until its 5 s timer gives it up; attempt 2 comes online.
    entity.next = 'online';
    await vi.advanceTimersByTimeAsync(5_000 + 100);
    expect(entity.attempts).toBe(2);
    expect(supervisor.connected).toBe(true);
    const disconnects = entity.disconnects;

    // Now attempt 1's TCP connect times out: that must not touch attempt 2's session.
    entity.failLate(Object.assign(new Error('connect ETIMEDOUT'), { code: 'ETIMEDOUT' }));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(entity.disconnects).toBe(disconnects);
    expect(entity.attempts).toBe(2);
    expect(supervisor.connected).toBe(true);
    await supervisor.stop();
  });
});
