import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  PRODUCTION_PROSODY_PARAMS,
  type ProsodyConfigParams,
  renderProsodyConfig,
  SHIPPED_CONFIG_PATH,
  SHIPPED_LIVENESS,
} from '../../src/harness/index.js';
import { luaString } from '../../src/harness/lua.js';

const harnessParams: ProsodyConfigParams = {
  domain: 'grid.localhost',
  c2sInterfaces: ['127.0.0.1'],
  ports: { c2s: 40001, directTls: 40002, component: 40003, http: 40004 },
  componentSecret: 's3cret',
  liveness: { readTimeoutS: 7, hibernationS: 3 },
  dataPath: '/tmp/h/data',
  pidFile: '/tmp/h/prosody.pid',
  adminSocket: '/tmp/h/prosody.sock',
  logFile: '/tmp/h/logs/prosody.log',
  certificatesDir: '/tmp/h/certs',
  c2sRateLimit: '10mb/s',
  header: ['test'],
};

/** Non-comment, non-blank lines. */
function settings(config: string): string[] {
  return config.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('--'));
}

function indexOfLine(lines: string[], prefix: string): number {
  return lines.findIndex((line) => line.startsWith(prefix));
}

describe('renderProsodyConfig', () => {
  const config = renderProsodyConfig(harnessParams);
  const lines = settings(config);

  it('puts every global option before the first VirtualHost or Component line', () => {
    // Prosody assigns every option after a section line to that section.
    const firstSection = lines.findIndex((line) => /^(VirtualHost|Component) /.test(line));
    expect(firstSection).toBeGreaterThan(0);
    expect(lines[firstSection]).toBe('VirtualHost "grid.localhost"');
    const afterSections = lines.slice(firstSection);
    expect(afterSections).toEqual([
      'VirtualHost "grid.localhost"',
      'Component "presence.grid.localhost"',
      'component_secret = "s3cret"',
    ]);
    for (const global of [
      'interfaces',
      'c2s_ports',
      'network_settings',
      'modules_enabled',
      'log',
    ]) {
      const at = indexOfLine(lines, `${global} =`);
      expect(at, global).toBeGreaterThanOrEqual(0);
      expect(at, global).toBeLessThan(firstSection);
    }
  });

  it('listens on the given ports and keeps the component and HTTP on loopback', () => {
    expect(lines).toContain('interfaces = { "127.0.0.1" }');
    expect(lines).toContain('c2s_ports = { 40001 }');
    expect(lines).toContain('c2s_direct_tls_ports = { 40002 }');
    expect(lines).toContain('component_ports = { 40003 }');
    expect(lines).toContain('component_interface = "127.0.0.1"');
    expect(lines).toContain('http_ports = { 40004 }');
    expect(lines).toContain('http_interfaces = { "127.0.0.1" }');
    expect(lines).toContain('https_ports = {}');
  });

  it('writes the liveness settings', () => {
    expect(lines).toContain('network_settings = { read_timeout = 7, tcp_backlog = 1024 }');
    expect(lines).toContain('smacks_hibernation_time = 3');
  });

  it('requires TLS, disables s2s and enables what clients and provisioning need', () => {
    expect(lines).toContain('c2s_require_encryption = true');
    expect(lines).toContain('modules_disabled = { "s2s" }');
    const from = config.indexOf('modules_enabled = {');
    const modules = config.slice(from, config.indexOf('\n}', from));
    for (const name of ['adhoc', 'ping', 'smacks', 'admin_shell', 'saslauth', 'tls', 'roster']) {
      expect(modules).toContain(`"${name}"`);
    }
  });

  it('escapes values so they cannot break out of a Lua string', () => {
    const tricky = renderProsodyConfig({ ...harnessParams, componentSecret: 'a"b\\c\n]]--' });
    const line = settings(tricky).at(-1);
    expect(line).toBe(`component_secret = ${luaString('a"b\\c\n]]--')}`);
    expect(line).toMatch(/^component_secret = "[^"\n]*"$/);
  });
});

describe('the shipped production config', () => {
  const rendered = renderProsodyConfig(PRODUCTION_PROSODY_PARAMS);

  it('is exactly what the renderer makes of the production params', () => {
    // The harness and the shipped file come from one renderer so they cannot drift; run with
    // UPDATE_SHIPPED_CONFIG=1 after changing the renderer or the production params.
    if (process.env.UPDATE_SHIPPED_CONFIG === '1') writeFileSync(SHIPPED_CONFIG_PATH, rendered);
    expect(readFileSync(SHIPPED_CONFIG_PATH, 'utf8')).toBe(rendered);
  });

  it('is public for clients, loopback for the component, with the shipped liveness', () => {
    const lines = settings(rendered);
    expect(lines).toContain('interfaces = { "*" }');
    expect(lines).toContain('component_interface = "127.0.0.1"');
    expect(lines).toContain('certificates = "/etc/prosody/certs"');
    expect(lines).toContain(
      `network_settings = { read_timeout = ${SHIPPED_LIVENESS.readTimeoutS}, tcp_backlog = 1024 }`,
    );
    expect(lines).toContain(`smacks_hibernation_time = ${SHIPPED_LIVENESS.hibernationS}`);
    expect(SHIPPED_LIVENESS).toEqual({ readTimeoutS: 15, hibernationS: 10 });
    expect(lines).toContain('VirtualHost "grid.example"');
  });
});
