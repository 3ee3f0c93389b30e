import { createProsodyAccounts, deleteProsodyAccount } from '../../src/harness/index.js';
import { meterBareJid } from '../../src/protocol/index.js';
import type { AccountProvisioner } from './account-provisioner.js';

// Accounts on a Prosody the service runs beside, through `prosodyctl` on its config file: the
// harness does the work (batched admin-shell calls), so tests and production share one path.

export function createProsodyctlProvisioner({
  configFile,
  domain,
}: {
  configFile: string;
  domain: string;
}): AccountProvisioner {
  return {
    createAccounts(accounts) {
      return createProsodyAccounts(configFile, domain, accounts);
    },
    deleteAccount(username) {
      return deleteProsodyAccount(configFile, meterBareJid(username, domain));
    },
  };
}
