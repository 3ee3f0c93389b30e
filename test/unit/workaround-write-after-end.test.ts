import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isWriteOnClosedSocket } from '../../src/xmpp/workarounds/write-after-end-guard.js';

describe('write-after-end guard (xmpp.js unhandled SASL write)', () => {
  it('recognises the error Node gives a write to an ended stream', async () => {
    const stream = new Writable({ write: (_chunk, _enc, done) => done() });
    stream.on('error', () => {});
    stream.end();
    const error = await new Promise<Error | null | undefined>((resolve) =>
      stream.write('late', (err) => resolve(err)),
    );
    expect(isWriteOnClosedSocket(error)).toBe(true);
  });

  it('recognises a stream error from the server (xmpp.js StreamError)', async () => {
    // @xmpp/connection's lib/StreamError.js (not exported): what its _onStreamError rejects with.
    const { default: StreamError } = (await import('@xmpp/connection/lib/StreamError.js')) as {
      default: new (condition: string) => Error;
    };
    expect(isWriteOnClosedSocket(new StreamError('not-well-formed'))).toBe(true);
  });

  it('recognises an error thrown inside @xmpp/connection itself', () => {
    const error = new TypeError("Cannot read properties of null (reading 'write')");
    error.stack = `TypeError: Cannot read properties of null (reading 'write')
    at file:///app/node_modules/@xmpp/connection/index.js:331:19
    at new Promise (<anonymous>)`;
    expect(isWriteOnClosedSocket(error)).toBe(true);
    const ours = new TypeError('x');
    ours.stack = 'TypeError: x\n    at file:///app/dist/meter-agent/main.js:1:1';
    expect(isWriteOnClosedSocket(ours)).toBe(false);
  });

  it('lets every other rejection through', () => {
    expect(isWriteOnClosedSocket(new Error('boom'))).toBe(false);
    expect(isWriteOnClosedSocket(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(
      false,
    );
    expect(isWriteOnClosedSocket(undefined)).toBe(false);
    expect(isWriteOnClosedSocket('ERR_STREAM_WRITE_AFTER_END')).toBe(false);
  });
});
