import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import { meterBareJid } from '../../src/protocol/index.js';
import { validateMeterInput } from '../store/meter-input.js';
import type { MeterRecord, MeterRegistry } from '../store/meter-registry.js';
import type { AccountProvisioner } from './account-provisioner.js';
import { generatePassword, passwordProblem } from './passwords.js';

// Adding and removing one meter: its XMPP account and its registry row move together, so the
// service never manages a meter that cannot log in, nor leaves an account nobody manages.

export interface LifecycleDeps {
  registry: MeterRegistry;
  provisioner: AccountProvisioner;
  domain: string;
}

export interface NewMeter {
  id: string;
  kind?: string;
  email?: string;
  groups?: string[];
  /** Generated when absent. */
  password?: string;
}

export async function provisionMeter(
  { registry, provisioner, domain }: LifecycleDeps,
  meter: NewMeter,
): Promise<{ record: MeterRecord; password: string }> {
  const { password: given, ...rest } = meter;
  const checked = validateMeterInput({ ...rest, domain });
  if (!checked.ok) throw new GridpresenceError(ERROR_CODES.IMPORT_INVALID, checked.error);
  const problem = given === undefined ? undefined : passwordProblem(given);
  if (problem) throw new GridpresenceError(ERROR_CODES.IMPORT_INVALID, problem);
  // Checked before touching the server: creating an account that exists resets its password,
  // which would lock out a meter already installed with the old one.
  if (registry.get(meter.id)) {
    throw new GridpresenceError(ERROR_CODES.METER_EXISTS, `meter '${meter.id}' already exists`, {
      hint: `remove it first with 'meters remove ${meter.id}'`,
    });
  }
  const password = given ?? generatePassword();
  try {
    await provisioner.createAccounts([{ username: meter.id, password }]);
  } catch (cause) {
    throw provisioningFailed(`creating the account ${meterBareJid(meter.id, domain)}`, cause);
  }
  try {
    return { record: registry.add(checked.value), password };
  } catch (error) {
    // Do not leave an account behind that no registry row accounts for; unless another `meters
    // add` registered the id meanwhile, in which case the account is that meter's now.
    const raced = error instanceof GridpresenceError && error.code === ERROR_CODES.METER_EXISTS;
    if (!raced) await provisioner.deleteAccount(meter.id).catch(() => {});
    throw error;
  }
}

/** Deletes the account, then the registry row; history stays (see migrations.ts). */
export async function deprovisionMeter(
  { registry, provisioner, domain }: LifecycleDeps,
  id: string,
): Promise<void> {
  if (!registry.get(id)) {
    throw new GridpresenceError(ERROR_CODES.METER_UNKNOWN, `meter '${id}' is not registered`, {
      hint: "'meters list' shows the registered meters",
    });
  }
  // Account first: if that fails the row stays, so the removal can simply be retried.
  try {
    await provisioner.deleteAccount(id);
  } catch (cause) {
    throw provisioningFailed(`deleting the account ${meterBareJid(id, domain)}`, cause);
  }
  registry.remove(id);
}

export function provisioningFailed(what: string, cause: unknown): GridpresenceError {
  if (cause instanceof GridpresenceError && cause.code === ERROR_CODES.PROVISIONING_FAILED) {
    return cause;
  }
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new GridpresenceError(ERROR_CODES.PROVISIONING_FAILED, `${what} failed: ${reason}`, {
    cause,
  });
}
