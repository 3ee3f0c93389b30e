import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// A real Modbus TCP server serving SunSpec meters, for the end-to-end tests: pymodbus (Debian's
// python3-pymodbus) running sunspec_server.py, an implementation independent of the agent's
// modbus-serial client. Points can be changed while it runs; kill() is a crash (SIGKILL).

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./sunspec_server.py', import.meta.url));

export const sunspecFixture = (name: string) =>
  fileURLToPath(new URL(`../../fixtures/sunspec/${name}`, import.meta.url));

/** Throws with the fix when pymodbus is missing (.ci/run installs it). */
export function requirePymodbus(): void {
  try {
    execFileSync(PYTHON, ['-c', 'import pymodbus'], { stdio: 'pipe' });
  } catch {
    throw new Error(
      `${PYTHON} cannot import pymodbus: apt-get install -y python3-pymodbus (.ci/run does this)`,
    );
  }
}

export interface SunSpecServer {
  readonly port: number;
  readonly running: boolean;
  /** Sets one point (its raw register value) of one unit's model; resolves once it is set. */
  setPoint(unit: number, model: number, point: string, value: number): Promise<void>;
  /** SIGKILL: the meter's link goes away as in a crash. */
  kill(): Promise<void>;
}

/** Serves each fixture as a unit id on 127.0.0.1:port; resolves once it listens. */
export async function startSunSpecServer(
  port: number,
  units: Record<number, string>,
): Promise<SunSpecServer> {
  const child: ChildProcess = spawn(
    PYTHON,
    [SCRIPT, String(port), ...Object.entries(units).map(([unit, file]) => `${unit}=${file}`)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let running = true;
  void exited.then(() => {
    running = false;
  });
  const waiting: Array<(line: Record<string, unknown>) => void> = [];
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  lines.on('line', (line) => waiting.shift()?.(JSON.parse(line) as Record<string, unknown>));
  const nextLine = (what: string, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`the SunSpec server gave no ${what} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      void exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`the SunSpec server exited: ${stderr.trim()}`));
      });
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });

  const ready = await nextLine('ready line');
  if (ready.ready !== true) throw new Error(`unexpected first line: ${JSON.stringify(ready)}`);

  return {
    port,
    get running() {
      return running;
    },
    async setPoint(unit, model, point, value) {
      const answer = nextLine(`answer to setting ${point}`);
      child.stdin?.write(`${JSON.stringify({ unit, model, point, value })}\n`);
      const result = await answer;
      if (result.ok !== true) throw new Error(`setting ${point}: ${String(result.error)}`);
    },
    async kill() {
      if (!running) return;
      lines.close();
      child.kill('SIGKILL');
      await exited;
    },
  };
}
