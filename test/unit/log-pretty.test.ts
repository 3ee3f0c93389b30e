import { describe, expect, it } from 'vitest';
import { createRootLogger } from '../../src/log.js';
import { formatPrettyLine } from '../../src/log-pretty.js';

// log.format 'pretty' (src/log-pretty.ts): one readable line per entry, secrets still redacted
// (pino redacts before this formatter sees the line), colours only on a terminal.

function prettyLogger(isTTY: boolean) {
  const chunks: string[] = [];
  const destination = {
    isTTY,
    write(chunk: string) {
      chunks.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WritableStream;
  const logger = createRootLogger({ name: 'test', level: 'debug', format: 'pretty', destination });
  return { logger, output: () => chunks.join('') };
}

const ESC = '\u001b';

describe('pretty log lines', () => {
  it('writes HH:MM:SS.mmm LEVEL module: msg key=value, one line per entry', () => {
    const { logger, output } = prettyLogger(false);
    const log = logger.child({ module: 'presence' });
    log.info({ state: 'restricted', seq: 42, reason: 'load limit 5 kW' }, 'state changed');
    log.debug({ nested: { a: 1 } }, 'stanza');
    logger.warn('no module');
    const lines = output().split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1)).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}presence: state changed state=restricted seq=42 reason="load limit 5 kW"$/,
    );
    expect(lines[1]).toMatch(/^\S+ DEBUG presence: stanza nested=\{"a":1\}$/);
    expect(lines[2]).toMatch(/^\S+ WARN {2}no module$/);
    expect(output()).not.toContain('pid=');
  });

  it('keeps secrets redacted', () => {
    const { logger, output } = prettyLogger(false);
    logger.info({ password: 'hunter2', xmpp: { password: 'hunter3' }, token: 't0k' }, 'config');
    expect(output()).not.toMatch(/hunter|t0k/);
    expect(output()).toContain('password=[redacted]');
    expect(output()).toContain('token=[redacted]');
  });

  it('keeps an error with its stack on the one line', () => {
    const { logger, output } = prettyLogger(false);
    logger.error({ err: new Error('boom') }, 'failed');
    expect(output().split('\n')).toHaveLength(2);
    expect(output()).toContain('err={"type":"Error","message":"boom","stack":"Error: boom\\n');
  });

  it('has no colour unless the destination is a terminal', () => {
    const plain = prettyLogger(false);
    plain.logger.error('bad');
    expect(plain.output()).not.toContain(ESC);
    const tty = prettyLogger(true);
    const before = process.env.NO_COLOR;
    delete process.env.NO_COLOR;
    try {
      const coloured = prettyLogger(true);
      coloured.logger.error('bad');
      expect(coloured.output()).toContain(`${ESC}[31mERROR`);
    } finally {
      if (before !== undefined) process.env.NO_COLOR = before;
    }
    expect(tty.output()).toBe('');
  });

  it('never passes control characters to the terminal, nor a forged second line', () => {
    const line = JSON.stringify({
      level: 30,
      time: '2026-11-27T14:00:00.000Z',
      msg: `chat from stranger: ${ESC}]0;pwned\u0007\n14:00:00.000 INFO  forged`,
      body: `${ESC}[2J`,
    });
    const out = formatPrettyLine(line, { colour: false });
    expect(out.endsWith('\n')).toBe(true);
    const controls = [...out.slice(0, -1)].filter((ch) => ch.charCodeAt(0) < 0x20);
    expect(controls).toEqual([]);
    expect(out).toContain('\\u001b]0;pwned\\u0007\\n14:00:00.000 INFO  forged');
    expect(out).toContain('body="\\u001b[2J"');
  });

  it('passes a line that is not JSON through, as one line', () => {
    expect(formatPrettyLine('not json\n', { colour: false })).toBe('not json\n');
  });
});
