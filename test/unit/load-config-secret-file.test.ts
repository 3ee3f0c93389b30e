import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig } from '../../src/config/load-config.js';

// Secrets from a file (`xmpp.passwordFile`) or the environment (GP_XMPP_PASSWORD), as the field
// install's config does (packaging/agent/config.example.json).

const schema = z
  .object({ xmpp: z.object({ host: z.string(), password: z.string().min(1) }).strict() })
  .strict();
const dir = mkdtempSync(join(tmpdir(), 'gp-load-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function load(config: unknown, env: NodeJS.ProcessEnv = {}) {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return loadConfig(schema, {
    file,
    env,
    envKeys: { GP_XMPP_PASSWORD: 'xmpp.password' },
    secretFileKeys: ['xmpp.password'],
  });
}

describe('a secret from a file or the environment', () => {
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, 'from-the-file\n');

  it('reads `<key>File` into the key, without the final newline', () => {
    expect(load({ xmpp: { host: 'h', passwordFile } }).xmpp.password).toBe('from-the-file');
  });

  it('the environment wins over the file, which then is not needed', () => {
    const config = { xmpp: { host: 'h', passwordFile: join(dir, 'no-such-file') } };
    expect(load(config, { GP_XMPP_PASSWORD: 'from-env' }).xmpp.password).toBe('from-env');
  });

  it('an unreadable file is named', () => {
    const config = { xmpp: { host: 'h', passwordFile: join(dir, 'no-such-file') } };
    expect(() => load(config)).toThrow(/'xmpp.passwordFile': cannot read .*no-such-file/);
  });
});
