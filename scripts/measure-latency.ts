import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Element } from '@xmpp/xml';
import xml from '@xmpp/xml';
import { controlRequest } from '../meter-agent/control/control-client.js';
import { reportCliError } from '../src/cli/report-error.js';
import { createRootLogger } from '../src/log.js';
import { loginAccount, startMeasurementStack } from '../src/stack/measurement-stack.js';
import { connectSse } from '../src/stack/sse-client.js';
import { meterIdFor, type Stack } from '../src/stack/start-stack.js';
import { waitFor } from '../src/stack/wait.js';
import { summarize } from '../src/util/percentiles.js';

// `npm run latency`: time from a meter's state change to the service's committed record, with
// N meters online (loopback). Each change is injected into a running agent (its control socket
// returns the moment the change happened); the service commits it and publishes it on
// /api/events, where this script takes the arrival time. The floor is a bare xmpp.js client's
// presence to another bare client through the same Prosody, in the same run.

const HELP = `Usage: npm run latency -- [--meters 100] [--changes 1000] [--interval-ms 10]

Starts Prosody, the presence service and N simulated meters (one fleet process), changes
meter states one at a time and prints the median, p99 and max time from the change on the
meter to the committed record (seen on the SSE stream), beside the floor measured in the
same run. Writes bench/results/latency-<time>.json.
`;

const ms = (v: number) => v.toFixed(2).padStart(8);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      meters: { type: 'string', default: '100' },
      changes: { type: 'string', default: '1000' },
      'interval-ms': { type: 'string', default: '10' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const meterCount = Number(values.meters);
  const changes = Number(values.changes);
  const intervalMs = Number(values['interval-ms']);
  const logger = createRootLogger({ name: 'latency', level: 'info' });
  const measured = await startMeasurementStack({ meterCount, logger });
  const { stack } = measured;
  try {
    // Our path: meter change → Prosody → component → SQLite commit → SSE.
    const arrivals = new Map<string, number>();
    const sse = await connectSse(
      `${stack.apiUrl}/api/events`,
      (event) => {
        if (event.event !== 'state') return;
        const change = JSON.parse(event.data) as { meterId: string; seq: number | null };
        arrivals.set(`${change.meterId}#${change.seq}`, event.receivedAtMs);
      },
      { authorization: `Bearer ${stack.apiToken}` },
    );
    logger.info({ changes, intervalMs }, 'measuring our path');
    const ours: number[] = [];
    const tampered = new Set<string>();
    for (let i = 0; i < changes; i++) {
      const meterId = meterIdFor(i % meterCount);
      const name = tampered.has(meterId) ? 'tamper-clear' : 'tamper';
      if (tampered.has(meterId)) tampered.delete(meterId);
      else tampered.add(meterId);
      const dataDir = stack.agents.get(meterId)?.dataDir as string;
      const result = (await controlRequest(dataDir, { op: 'inject', name })) as {
        status: { seq: number };
        atMs: number;
      };
      const key = `${meterId}#${result.status.seq}`;
      const arrived = await waitFor(
        `change ${key} on the SSE stream`,
        () => arrivals.get(key),
        10_000,
        1,
      );
      ours.push(arrived - result.atMs);
      await new Promise((r) => setTimeout(r, intervalMs));
    }
    sse.close();

    // Floor: the same kind of stanza between two bare xmpp.js clients through the same Prosody.
    logger.info('measuring the floor');
    const floor = await measureFloor(stack, changes, intervalMs);

    const result = {
      script: 'scripts/measure-latency.ts',
      command: `npm run latency -- --meters ${meterCount} --changes ${changes} --interval-ms ${intervalMs}`,
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      meters: meterCount,
      changeToCommittedRecordMs: summarize(ours),
      floorClientToClientMs: summarize(floor),
    };
    const o = result.changeToCommittedRecordMs;
    const f = result.floorClientToClientMs;
    process.stdout.write(`
meters online: ${meterCount}, changes: ${changes}, one every ${intervalMs} ms

                                            p50       p99       max   (ms)
meter change → committed record (SSE)  ${ms(o.p50)}  ${ms(o.p99)}  ${ms(o.max)}
floor: bare client → bare client       ${ms(f.p50)}  ${ms(f.p99)}  ${ms(f.max)}
ratio (ours / floor)                   ${ms(o.p50 / f.p50)}  ${ms(o.p99 / f.p99)}
`);
    mkdirSync('bench/results', { recursive: true });
    const file = join('bench/results', `latency-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nwritten to ${file}\n`);
    return 0;
  } finally {
    await measured.close();
  }
}

async function measureFloor(stack: Stack, count: number, intervalMs: number): Promise<number[]> {
  await stack.prosody.createAccounts([
    { username: 'floor-a', password: 'floor-password-a' },
    { username: 'floor-b', password: 'floor-password-b' },
  ]);
  const connect = (username: string, password: string) =>
    loginAccount(stack, username, password, 'floor');

  const sender = await connect('floor-a', 'floor-password-a');
  const receiver = await connect('floor-b', 'floor-password-b');
  const arrivals = new Map<string, number>();
  receiver.on('stanza', (stanza: Element) => {
    if (stanza.is('presence') && stanza.attrs.id) {
      arrivals.set(String(stanza.attrs.id), performance.timeOrigin + performance.now());
    }
  });
  const samples: number[] = [];
  const to = `floor-b@${stack.prosody.domain}/floor`;
  for (let i = 0; i < count; i++) {
    const id = `f${i}`;
    const sentAt = performance.timeOrigin + performance.now();
    await sender.send(xml('presence', { to, id }, xml('status', {}, `floor ${i}`)));
    const arrived = await waitFor(`floor presence ${id}`, () => arrivals.get(id), 10_000, 1);
    samples.push(arrived - sentAt);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  await sender.stop();
  await receiver.stop();
  return samples;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(reportCliError('latency', error)),
);
