// The Prosody harness (tests, `npm start`) and the Prosody helpers the presence service's
// provisioner shares with it.

export { ensureProsodyInstalled } from './ensure-prosody.js';
export { ensurePki, type PkiFiles, pkiFiles, serverSubjectAltNames } from './pki.js';
export { PRODUCTION_PROSODY_PARAMS, SHIPPED_CONFIG_PATH } from './production-config.js';
export {
  type AccountCredentials,
  createProsodyAccounts,
  deleteProsodyAccount,
  prosodyAccountExists,
} from './prosody-accounts.js';
export {
  componentJidFor,
  ENABLED_MODULES,
  type LivenessSettings,
  offlineAfterS,
  type ProsodyConfigParams,
  type ProsodyPorts,
  renderProsodyConfig,
  SHIPPED_LIVENESS,
} from './prosody-config.js';
export { type ProsodyHarnessOptions, type RunningProsody, startProsody } from './start-prosody.js';
