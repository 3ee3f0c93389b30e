import { describe, expect, it } from 'vitest';
import { createAcl } from '../../meter-agent/security/acl.js';

describe('ACL (PROTOCOL §2)', () => {
  const acl = createAcl(
    [
      { jid: 'grid.example', role: 'viewer' },
      { jid: 'alice@grid.example', role: 'operator' },
      { jid: 'root@ops.example', role: 'admin' },
    ],
    'presence.grid.example',
  );

  it('gives an exact JID precedence over its domain, ignoring the resource and case', () => {
    expect(acl.roleOf('Alice@grid.example/gajim')).toBe('operator');
    expect(acl.roleOf('bob@grid.example/phone')).toBe('viewer');
    expect(acl.roleOf('root@ops.example')).toBe('admin');
  });

  it('grants nothing to strangers', () => {
    expect(acl.roleOf('mallory@evil.example')).toBeNull();
    expect(acl.allows('mallory@evil.example', 'viewer')).toBe(false);
  });

  it('always lets the presence service operate, but not accounts under its domain', () => {
    expect(acl.roleOf('presence.grid.example')).toBe('operator');
    expect(acl.allows('presence.grid.example', 'operator')).toBe(true);
    expect(acl.allows('presence.grid.example', 'admin')).toBe(false);
    expect(acl.roleOf('feeder-12@presence.grid.example')).toBeNull();
  });

  it('orders the roles viewer < operator < admin', () => {
    expect(acl.allows('bob@grid.example', 'operator')).toBe(false);
    expect(acl.allows('alice@grid.example', 'viewer')).toBe(true);
    expect(acl.allows('root@ops.example', 'operator')).toBe(true);
  });
});
