import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// Where the built programs are. The stack runs the compiled JavaScript (what ships), also when
// the caller is a TypeScript test run by vitest: `npm run build` comes first.

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root (package.json)');
    dir = parent;
  }
  return dir;
}

export function programPath(program: 'meter-agent' | 'presence-service'): string {
  const path = resolve(repoRoot(), 'dist', program, 'cli.js');
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run \`npm run build\` first`);
  }
  return path;
}
