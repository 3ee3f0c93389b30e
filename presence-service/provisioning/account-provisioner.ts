import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import type { ServiceConfig } from '../config.js';
import { createProsodyctlProvisioner } from './prosodyctl-provisioner.js';

// Meter accounts live on the XMPP server, not in our database: this is the one seam through
// which the `meters` command creates and deletes them, whatever the server is.

export interface AccountProvisioner {
  /** Creates the accounts on the meters' domain (or resets the password of existing ones). */
  createAccounts(accounts: Array<{ username: string; password: string }>): Promise<void>;
  /** Deletes one account; an account that does not exist counts as deleted. */
  deleteAccount(username: string): Promise<void>;
}

export function createProvisioner(config: ServiceConfig): AccountProvisioner {
  switch (config.provisioning.kind) {
    case 'prosodyctl': {
      const configFile = config.provisioning.prosodyConfig;
      if (!configFile) {
        throw new GridpresenceError(
          ERROR_CODES.CONFIG_INVALID,
          "config key 'provisioning.prosodyConfig': required when provisioning.kind is 'prosodyctl'",
          {
            hint: "set 'provisioning.prosodyConfig' (or GP_PROSODY_CONFIG) to the Prosody config file, or provisioning.kind to 'none'",
          },
        );
      }
      return createProsodyctlProvisioner({ configFile, domain: config.domain });
    }
    case 'none':
      return createNoopProvisioner();
  }
}

/**
 * For servers whose accounts an administrator manages out of band (an LDAP-backed server, a
 * hosted service): the registry is still kept, and the password printed by `meters add` is the
 * one the administrator must give the account.
 */
export function createNoopProvisioner(): AccountProvisioner {
  return {
    async createAccounts() {},
    async deleteAccount() {},
  };
}
