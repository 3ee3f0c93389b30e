// sasl-scram-sha-1 (under @xmpp/sasl-scram-sha-1) ships no types: the helper module that
// src/xmpp/workarounds/fast-scram.ts patches, typed by hand.
declare module 'sasl-scram-sha-1/lib/bitops.js' {
  const bitops: {
    Hi(text: string, salt: Uint8Array, iterations: number): Promise<Uint8Array>;
  };
  export default bitops;
}
