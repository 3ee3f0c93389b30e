import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { type Check, fail, ok, required } from './check.js';

// Check 3: xmpp.host resolves, the way the connection will resolve it (getaddrinfo: /etc/hosts,
// then DNS). An IP literal needs no lookup.

export const dnsCheck: Check = {
  name: 'dns',
  needs: ['config'],
  timeoutHint:
    'the DNS server does not answer: check /etc/resolv.conf and the network, or put an IP address in xmpp.host',
  async run(ctx) {
    const host = required(ctx.config, 'the config').xmpp.host;
    if (isIP(host)) {
      ctx.addresses = [host];
      return ok(`${host} is an IP address (no lookup needed)`);
    }
    try {
      const found = await lookup(host, { all: true });
      ctx.addresses = [...new Set(found.map((a) => a.address))];
    } catch (error) {
      return lookupFailure(host, error as NodeJS.ErrnoException);
    }
    if (ctx.addresses.length === 0) {
      return fail(`${host} resolved to no address`, 'check the DNS record of xmpp.host');
    }
    return ok(`${host} → ${ctx.addresses.join(', ')}`);
  },
};

function lookupFailure(host: string, error: NodeJS.ErrnoException) {
  switch (error.code) {
    case 'ENOTFOUND':
    case 'ENODATA':
      return fail(
        `${host} does not exist in DNS (${error.code})`,
        'check xmpp.host for a typo; the name must resolve on this network (or use an IP address)',
      );
    case 'EAI_AGAIN':
    case 'ETIMEOUT':
    case 'ECONNREFUSED':
      return fail(
        `no DNS server answered for ${host} (${error.code}: a temporary failure)`,
        'check the network and the DNS servers in /etc/resolv.conf, or use an IP address in xmpp.host',
      );
    default:
      return fail(
        `cannot resolve ${host}: ${error.code ?? error.message}`,
        'check xmpp.host and the resolver configuration (/etc/resolv.conf, /etc/hosts)',
      );
  }
}
