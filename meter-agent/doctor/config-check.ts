import { ERROR_CODES, GridpresenceError } from '../../src/errors.js';
import { loadAgentConfig, serviceJidOf } from '../config.js';
import { type Check, fail, ok } from './check.js';

// Check 1: the config loads and validates, exactly as `meter-agent run` would load it (the file,
// then environment overrides, then `xmpp.passwordFile`). The loader's message names the key.

export const configCheck: Check = {
  name: 'config',
  needs: [],
  async run(ctx) {
    try {
      ctx.config = loadAgentConfig(ctx.configFile, ctx.env);
    } catch (error) {
      if (!(error instanceof GridpresenceError)) throw error;
      if (error.code === ERROR_CODES.CONFIG_UNREADABLE) ctx.configUnreadable = true;
      return fail(error.message, error.hint ?? 'fix the config (see docs/configuration.md)');
    }
    const c = ctx.config;
    const trust = c.xmpp.caFile ? `CA ${c.xmpp.caFile}` : 'system CAs';
    const source = ctx.configFile ? `from ${ctx.configFile}` : 'from the environment';
    return ok(
      `${c.meterId}@${c.domain} via ${c.xmpp.host}:${c.xmpp.port} (${trust}), service ` +
        `${serviceJidOf(c)}, meter driver ${c.meter.driver}, ${source}`,
    );
  },
};
