import { asProsodyUser } from '../../src/harness/prosody-user.js';
import { runCommand } from '../../src/harness/run-command.js';

// The Lua garbage collector mode of the running harness Prosody, switched through its admin
// shell (`> collectgarbage(...)` runs in the server's Lua state). With 10,000 sessions Prosody
// 0.12's default incremental collector was seen to hold the CPU for about 450 ms out of every
// 1.1 s under 1,000 presences/s, which sets the presence path's latency; `--prosody-gc
// generational` measures the same run with the generational collector (Lua 5.4), the candidate
// fix (Prosody's `gc` config option), without changing the shipped config.

export type ProsodyGcMode = 'incremental' | 'generational';

export async function setProsodyGc(configFile: string, mode: ProsodyGcMode): Promise<string> {
  const [file, args] = asProsodyUser('prosodyctl', ['--config', configFile, 'shell']);
  const result = await runCommand(file, args, {
    timeoutMs: 30_000,
    input: `> collectgarbage(${JSON.stringify(mode)})\n`,
  });
  // The shell answers with the previous mode: `| Result: incremental`.
  const previous = /Result: (\w+)/.exec(result.stdout)?.[1];
  if (!result.ok || !previous) {
    throw new Error(`could not set Prosody's GC to ${mode}: ${result.stdout.slice(-500)}`);
  }
  return previous;
}
