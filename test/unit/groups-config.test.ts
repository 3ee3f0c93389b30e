import { describe, expect, it } from 'vitest';
import { serviceConfigSchema } from '../../presence-service/config.js';

// The service's own ACL and group settings (PROTOCOL §2, §7), parsed once at start (STYLE §6).

const base = { domain: 'grid.example', component: { secret: 'a-long-secret' } };

describe('service config: acl and groups', () => {
  it('defaults to an empty ACL and bounded group commands', () => {
    const config = serviceConfigSchema.parse(base);
    expect(config.acl).toEqual([]);
    expect(config.groups).toEqual({
      concurrency: 64,
      timeoutMs: 10_000,
      maxRunningJobs: 8,
      retainJobs: 1000,
    });
  });

  it('takes bare JIDs and other domains with a role', () => {
    const config = serviceConfigSchema.parse({
      ...base,
      acl: [
        { jid: 'alice@grid.example', role: 'operator' },
        { jid: 'ops.grid.example', role: 'viewer' },
      ],
      groups: { timeoutMs: 2000 },
    });
    expect(config.acl).toHaveLength(2);
    expect(config.groups.timeoutMs).toBe(2000);
    expect(config.groups.concurrency).toBe(64);
  });

  it('refuses the meters’ own domain, a resource, and an unknown role, naming the key', () => {
    const issues = (acl: unknown) =>
      serviceConfigSchema
        .safeParse({ ...base, acl })
        .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(issues([{ jid: 'GRID.example', role: 'viewer' }])?.[0]).toMatch(
      /^acl\.0\.jid: the meters' own domain would let every meter command groups/,
    );
    expect(issues([{ jid: 'alice@grid.example/phone', role: 'viewer' }])?.[0]).toBe(
      'acl.0.jid: ACL entries are bare JIDs or domains, without a resource',
    );
    expect(issues([{ jid: 'alice@grid.example', role: 'root' }])?.[0]).toMatch(/^acl\.0\.role: /);
  });
});
