import type { Check } from './check.js';
import { clockCheck } from './clock-check.js';
import { configCheck } from './config-check.js';
import { diskCheck } from './disk-check.js';
import { dnsCheck } from './dns-check.js';
import { loginCheck } from './login-check.js';
import { meterCheck } from './meter-check.js';
import { subscriptionCheck } from './subscription-check.js';
import { tcpCheck } from './tcp-check.js';
import { tlsCheck } from './tls-check.js';

/** docs/doctor.md: the checks in the order they run, each after the ones it needs. */
export const DOCTOR_CHECKS: readonly Check[] = [
  configCheck,
  clockCheck,
  dnsCheck,
  tcpCheck,
  tlsCheck,
  loginCheck,
  subscriptionCheck,
  meterCheck,
  diskCheck,
];
