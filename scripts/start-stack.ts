import { parseArgs } from 'node:util';
import { reportCliError } from '../src/cli/report-error.js';
import { ensureProsodyInstalled } from '../src/harness/index.js';
import { createRootLogger } from '../src/log.js';
import { startStack } from '../src/stack/start-stack.js';
import { waitFor } from '../src/stack/wait.js';

// `npm start`: the whole system on embedded defaults, until Ctrl-C.

const HELP = `Usage: npm start [-- options]

Runs Gridpresence on this machine: a Prosody XMPP server (from Debian's package, as the
prosody user), the presence service with SQLite under ./data, simulated meters, an operator
account and an admin of the dashboard and HTTP API. Prints how to connect and sign in; writes
the same to data/stack.json (mode 0600). Ctrl-C stops everything it started.

Options:
  --meters N        how many simulated meters (default 5)
  --data-dir DIR    where everything is kept (default ./data)
  --api-port N      HTTP API port (default 8080; env GP_API_PORT)
  --xmpp-port N     client port for chat clients, STARTTLS (default 15222; env GP_XMPP_PORT)
  -h, --help        this help
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      meters: { type: 'string', default: '5' },
      'data-dir': { type: 'string', default: 'data' },
      'api-port': { type: 'string', default: process.env.GP_API_PORT ?? '8080' },
      'xmpp-port': { type: 'string', default: process.env.GP_XMPP_PORT ?? '15222' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const meterCount = Number(values.meters);
  const apiPort = Number(values['api-port']);
  const xmppPort = Number(values['xmpp-port']);
  for (const [name, value] of [
    ['--meters', meterCount],
    ['--api-port', apiPort],
    ['--xmpp-port', xmppPort],
  ] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 65535) {
      process.stderr.write(`start: ${name} must be a whole number\n`);
      return 2;
    }
  }
  // Each program's structured logs go to data/logs/; here only warnings and plain progress.
  const logger = createRootLogger({
    name: 'gridpresence-stack',
    level: process.env.LOG_LEVEL ?? 'warn',
  });
  await ensureProsodyInstalled(logger);
  process.stdout.write(
    `Starting Prosody, the presence service and ${meterCount} simulated meters…\n`,
  );
  const stack = await startStack({
    dataDir: values['data-dir'] as string,
    meterCount,
    ports: {
      c2s: xmppPort,
      directTls: xmppPort + 1,
      component: xmppPort + 125,
      http: xmppPort + 58,
      api: apiPort,
    },
    // A demo should show data soon: a reading every 10 s (the agent's default is 60 s).
    agentConfig: { telemetry: { intervalS: 10 } },
    logger,
  });
  for (const meterId of stack.agents.keys()) stack.startAgent(meterId);
  const d = stack.description;
  await waitFor(
    'every meter to be recorded online',
    async () => {
      const res = await fetch(`${stack.apiUrl}/api/stats`, {
        headers: { authorization: `Bearer ${stack.apiToken}` },
      });
      const body = (await res.json()) as { counts: Record<string, number> };
      return body.counts.decoupled === 0 || undefined;
    },
    30_000,
    200,
  ).catch(() => logger.warn('not every meter is online yet; see data/logs/'));

  process.stdout.write(`
Gridpresence is running.

  Dashboard    ${stack.apiUrl}/   sign in as ${d.admin.username}, password ${d.admin.password}
  HTTP API     ${stack.apiUrl}/api/meters   (live changes: ${stack.apiUrl}/api/events)
  API token    ${d.apiToken}   (send 'Authorization: Bearer <token>'; acts as ${d.admin.username})
  XMPP server  ${d.xmpp.host}:${d.xmpp.port} (STARTTLS), domain ${d.xmpp.domain}
  CA file      ${d.xmpp.caFile}
  Operator     ${d.operator.jid}  password ${d.operator.password}
  Meters       ${d.meters.join(', ')}
  Service      ${d.component} (component)
  Logs         ${values['data-dir']}/logs/
  Details      ${values['data-dir']}/stack.json

Sign in to the dashboard with the admin's username and password, or call the API with the
token, e.g. curl -H 'Authorization: Bearer ${d.apiToken}' ${stack.apiUrl}/api/meters
('presence-service users --help' adds viewers and operators).

Log in with an XMPP client as the operator (trust the CA file, connect to ${d.xmpp.host}:${d.xmpp.port})
and add a meter as a contact, e.g. ${d.meters[0] ?? 'mtr-0001'}@${d.xmpp.domain}: it approves you.
Press Ctrl-C to stop.
`);

  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  process.stdout.write('\nstopping…\n');
  await stack.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(reportCliError('start', error)),
);
