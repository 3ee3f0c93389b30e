import { bareJid } from '../../src/protocol/meter-id.js';
import { serviceJidOf } from '../config.js';
import { type Check, type CheckOutcome, fail, ok, type RosterItem, required } from './check.js';

// Check 7: PROTOCOL §2 and XMPP-NOTES "Subscribing a component": the presence service sees a
// meter only through a presence subscription, which lives in the meter's roster. `from` or
// `both` means the service receives this meter's presence.

export function judgeSubscription(
  roster: RosterItem[] | { error: string },
  serviceJid: string,
  account: string,
): CheckOutcome {
  if (!Array.isArray(roster)) {
    return fail(
      `could not read the roster of ${account}: ${roster.error}`,
      'run doctor again; if it persists, check the server log',
    );
  }
  const wanted = bareJid(serviceJid);
  const item = roster.find((i) => bareJid(i.jid) === wanted);
  if (item && (item.subscription === 'from' || item.subscription === 'both')) {
    return ok(
      `${wanted} is subscribed to ${account}'s presence (subscription ${item.subscription})`,
    );
  }
  const found = item
    ? `the roster of ${account} has ${wanted} with subscription ${item.subscription}`
    : `${wanted} is not in the roster of ${account}`;
  return fail(
    `${found}: the presence service does not see this meter's presence`,
    `register the meter with the presence service (presence-service meters add ${account.split('@')[0]}); ` +
      `the service then asks to subscribe, and the running agent approves it (check that \`service\` is ${wanted})`,
  );
}

export const subscriptionCheck: Check = {
  name: 'subscription',
  needs: ['login'],
  async run(ctx) {
    const config = required(ctx.config, 'the config');
    const roster = required(ctx.roster, 'the roster');
    return judgeSubscription(roster, serviceJidOf(config), `${config.meterId}@${config.domain}`);
  },
};
