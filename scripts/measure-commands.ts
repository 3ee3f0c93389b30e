import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import xml from '@xmpp/xml';
import { reportCliError } from '../src/cli/report-error.js';
import { createRootLogger } from '../src/log.js';
import { buildCommandRequest, parseCommandResponse } from '../src/protocol/adhoc.js';
import { NS_COMMANDS, NS_PING } from '../src/protocol/namespaces.js';
import { loginAccount, startMeasurementStack } from '../src/stack/measurement-stack.js';
import { meterIdFor } from '../src/stack/start-stack.js';
import { waitFor } from '../src/stack/wait.js';
import { summarize } from '../src/util/percentiles.js';

// `npm run measure:commands`: (1) the round trip of an ad-hoc command (PROTOCOL §4, `read`,
// one-shot submission) from an operator's client to a meter and back, beside the floor of an
// XEP-0199 ping to the same meter through the same Prosody; (2) the time a group command over
// N meters takes to return its summary (PROTOCOL §7), beside its floor: N sequential command
// round trips divided by the service's concurrency.

const HELP = `Usage: npm run measure:commands -- [--meters 1000] [--samples 500]

Starts Prosody, the presence service and N simulated meters (one fleet process), then
measures the ad-hoc command round trip to one meter and a group command over all N.
Writes bench/results/commands-<time>.json.
`;

const fmt = (v: number) => v.toFixed(2).padStart(8);
const now = () => performance.timeOrigin + performance.now();

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      meters: { type: 'string', default: '1000' },
      samples: { type: 'string', default: '500' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const meterCount = Number(values.meters);
  const samples = Number(values.samples);
  const logger = createRootLogger({ name: 'measure-commands', level: 'info' });
  const measured = await startMeasurementStack({ meterCount, logger });
  const { stack } = measured;
  try {
    const operator = await loginAccount(stack, 'operator', stack.operator.password, 'measure');
    // Round-robin over the meters: each meter rate-limits every sender (10 at once, then 1/s),
    // and a sample should measure the path, not the limiter.
    const meterJid = (i: number) => `${meterIdFor(i % meterCount)}@${stack.prosody.domain}/agent`;

    const floor: number[] = [];
    const command: number[] = [];
    for (let i = 0; i < samples; i++) {
      let t0 = now();
      await operator.iqCaller.get(xml('ping', { xmlns: NS_PING }), meterJid(i));
      floor.push(now() - t0);
      t0 = now();
      const reply = await operator.iqCaller.set(
        buildCommandRequest({
          node: 'urn:gridpresence:cmd:read',
          action: 'complete',
          form: { registers: [] },
        }),
        meterJid(i),
      );
      command.push(now() - t0);
      const parsed = parseCommandResponse(reply?.attrs.xmlns === NS_COMMANDS ? reply : undefined);
      if (!parsed.ok || parsed.value.status !== 'completed') {
        throw new Error(`read did not complete: ${parsed.ok ? parsed.value.status : parsed.error}`);
      }
    }
    await operator.stop();

    logger.info('group command over every meter');
    const t0 = now();
    const posted = await fetch(`${stack.apiUrl}/api/groups/feeder-1/commands`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${stack.apiToken}` },
      body: JSON.stringify({ command: 'read', args: { registers: ['1-0:1.8.0'] } }),
    });
    if (posted.status !== 202)
      throw new Error(`group command: HTTP ${posted.status} ${await posted.text()}`);
    const { jobId } = (await posted.json()) as { jobId: number };
    const job = await waitFor(
      `job ${jobId} to finish`,
      async () => {
        const res = await fetch(`${stack.apiUrl}/api/jobs/${jobId}?limit=1`, {
          headers: { authorization: `Bearer ${stack.apiToken}` },
        });
        const body = (await res.json()) as {
          summary: { ok: number; total: number; durationMs: number } | null;
        };
        return body.summary ?? undefined;
      },
      120_000,
      5,
    );
    const groupMs = now() - t0;
    const serviceConfig = JSON.parse(readFileSync(stack.serviceConfigFile, 'utf8')) as {
      groups?: { concurrency?: number };
    };
    const concurrency = serviceConfig.groups?.concurrency ?? 64;
    const single = summarize(command);
    const groupFloorMs = (meterCount * single.p50) / concurrency;

    const result = {
      script: 'scripts/measure-commands.ts',
      command: `npm run measure:commands -- --meters ${meterCount} --samples ${samples}`,
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      meters: meterCount,
      adhocReadRoundTripMs: single,
      floorPingRoundTripMs: summarize(floor),
      group: {
        meters: meterCount,
        ok: job.ok,
        concurrency,
        timeToSummaryMs: Math.round(groupMs),
        serviceDurationMs: job.durationMs,
        floorMs: Math.round(groupFloorMs),
      },
    };
    const f = result.floorPingRoundTripMs;
    process.stdout.write(`
meters online: ${meterCount}; ${samples} samples, round-robin over the meters

                                              p50       p99       max   (ms)
ad-hoc 'read' round trip (operator↔meter)  ${fmt(single.p50)}  ${fmt(single.p99)}  ${fmt(single.max)}
floor: XEP-0199 ping, same path            ${fmt(f.p50)}  ${fmt(f.p99)}  ${fmt(f.max)}
ratio                                      ${fmt(single.p50 / f.p50)}  ${fmt(single.p99 / f.p99)}

group 'read' over ${meterCount} meters: ${job.ok}/${job.total} ok, summary after ${Math.round(groupMs)} ms
floor: ${meterCount} × p50 ÷ concurrency ${concurrency} = ${Math.round(groupFloorMs)} ms (ratio ${(groupMs / groupFloorMs).toFixed(2)})
`);
    mkdirSync('bench/results', { recursive: true });
    const file = join('bench/results', `commands-${result.date.replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
    process.stdout.write(`\nwritten to ${file}\n`);
    return 0;
  } finally {
    await measured.close();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => process.exit(reportCliError('measure-commands', error)),
);
