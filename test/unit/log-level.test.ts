import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRootLogger, type Logger } from '../../src/log.js';
import { createLogLevelControl } from '../../src/log-level.js';

// src/log-level.ts relies on how pino children take their level: a child made without a `level`
// option follows its parent's level, also when the level changes after the child was made.

function capture(level = 'info'): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const chunks: string[] = [];
  const destination = {
    write(chunk: string) {
      chunks.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  const logger = createRootLogger({ name: 'test', level, format: 'json', destination });
  return {
    logger,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('pino children and the level', () => {
  it('children and grandchildren made before a change follow the root', () => {
    const { logger, lines } = capture('info');
    const child = logger.child({ module: 'presence' });
    const grandchild = child.child({ door: 'chat' });
    child.debug('hidden');
    logger.level = 'debug';
    child.debug('shown');
    grandchild.debug('shown too');
    logger.child({ module: 'later' }).debug('and a new one');
    logger.level = 'warn';
    grandchild.info('hidden again');
    expect(lines().map((l) => l.msg)).toEqual(['shown', 'shown too', 'and a new one']);
  });

  it('a change on a child reaches its own descendants only (fleet: one meter)', () => {
    const { logger, lines } = capture('info');
    const meterA = logger.child({ meterId: 'a' });
    const meterB = logger.child({ meterId: 'b' });
    const moduleOfA = meterA.child({ module: 'xmpp' });
    meterA.level = 'debug';
    moduleOfA.debug('a');
    meterB.child({ module: 'xmpp' }).debug('b');
    logger.debug('root');
    expect(lines().map((l) => l.msg)).toEqual(['a']);
  });
});

describe('createLogLevelControl', () => {
  it('sets the level, logs the change, and reverts after the minutes', () => {
    vi.useFakeTimers({ now: new Date('2026-11-27T14:00:00Z') });
    const { logger, lines } = capture('info');
    const control = createLogLevelControl({ logger, configured: 'info' });
    const child = logger.child({ module: 'telemetry' });
    expect(control.set('debug', 10, 'root@grid.example/laptop')).toEqual({
      level: 'debug',
      configured: 'info',
      revertsAt: '2026-11-27T14:10:00.000Z',
    });
    child.debug('now visible');
    vi.advanceTimersByTime(10 * 60_000);
    child.debug('hidden after the revert');
    expect(control.state()).toEqual({ level: 'info', configured: 'info', revertsAt: null });
    expect(lines().map((l) => [l.module, l.msg, l.level])).toEqual([
      ['log-level', 'log level changed', 40],
      ['telemetry', 'now visible', 20],
      ['log-level', 'log level reverted to the configured one', 30],
    ]);
    expect(lines()[0]).toMatchObject({ by: 'root@grid.example/laptop', before: 'info' });
  });

  it('0 minutes keeps the level; a new change replaces a pending revert', () => {
    vi.useFakeTimers({ now: new Date('2026-11-27T14:00:00Z') });
    const { logger } = capture('info');
    const control = createLogLevelControl({ logger, configured: 'info' });
    control.set('trace', 5);
    control.set('debug', 0);
    vi.advanceTimersByTime(60 * 60_000);
    expect(control.state()).toEqual({ level: 'debug', configured: 'info', revertsAt: null });
    control.stop();
  });
});
