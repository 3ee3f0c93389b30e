import { describe, expect, it } from 'vitest';
import { serviceConfigSchema } from '../../presence-service/config.js';

// demandResponse in the service config (docs/configuration.md): off by default, defaults and
// units in the schema, a bad value named by its key (STYLE §6).

const base = { domain: 'grid.example', component: { secret: 'a-long-secret' } };
const issues = (demandResponse: unknown) =>
  serviceConfigSchema
    .safeParse({ ...base, demandResponse })
    .error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`);

describe('service config: demandResponse', () => {
  it('has no rules by default', () => {
    expect(serviceConfigSchema.parse(base).demandResponse).toEqual({
      rules: [],
      evaluateEveryS: 5,
    });
  });

  it('fills in a rule’s defaults; the release margin follows the limit at run time', () => {
    const config = serviceConfigSchema.parse({
      ...base,
      demandResponse: { rules: [{ group: 'feeder-1', limitKw: 250 }] },
    });
    expect(config.demandResponse.rules[0]).toEqual({
      group: 'feeder-1',
      limitKw: 250,
      holdS: 60,
      releaseHoldS: 120,
      shedLimitKw: 1,
      shedDurationMin: 60,
      priorities: {},
    });
  });

  it('refuses a missing limit, a bad duration, two rules for one group and unknown keys', () => {
    expect(issues({ rules: [{ group: 'feeder-1' }] })?.[0]).toMatch(
      /^demandResponse\.rules\.0\.limitKw: /,
    );
    expect(issues({ rules: [{ group: 'feeder-1', limitKw: 5, shedDurationMin: 0 }] })).toEqual([
      expect.stringMatching(/^demandResponse\.rules\.0\.shedDurationMin: /),
    ]);
    expect(
      issues({
        rules: [
          { group: 'feeder-1', limitKw: 5 },
          { group: 'feeder-1', limitKw: 6 },
        ],
      }),
    ).toEqual(['demandResponse.rules: one rule per group']);
    expect(issues({ rules: [{ group: 'feeder-1', limitKw: 5, limit: 3 }] })?.[0]).toMatch(
      /^demandResponse\.rules\.0: Unrecognized key/,
    );
  });
});
