#!/usr/bin/env node
// `npm run build:agent`: the meter agent as ONE JavaScript file for field install on embedded
// Linux (Node present, no node_modules, no build tools), and the tarball that carries it there
// with its sample config, systemd unit, OpenWrt init script and install script (packaging/agent/).
//
//   build/agent/meter-agent.mjs        the bundle (#!/usr/bin/env node), with its .map beside it
//   build/agent/gridpresence-meter-agent-<version>.tar.gz
//
// Plain JavaScript on purpose: it runs before anything is compiled, and needs only esbuild.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = join(ROOT, 'build', 'agent');
const ENTRY = 'meter-agent/cli.ts';
const BUNDLE = join(OUT_DIR, 'meter-agent.mjs');
const PACKAGING = join(ROOT, 'packaging', 'agent');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const NAME = `gridpresence-meter-agent-${version}`;

/**
 * Left out of the bundle:
 * - serialport: modbus-serial's optional native serial transport, required inside try/catch; a
 *   meter on Modbus TCP needs none of it, and a native addon cannot live in a single file.
 */
const EXTERNAL = ['serialport', '@serialport/*'];

/** The agent must never carry these (native addons, or the service's own parts). */
const FORBIDDEN = [/node_modules\/better-sqlite3\//, /node_modules\/fastify\//, /\.node$/];

// ESM output, but much of node_modules is CommonJS and calls require('node:os') and friends:
// give the bundle a real `require` (esbuild's shim uses it when one exists). esbuild keeps the
// entry's own #! line and puts it first; the banner supplies one only if the entry lost it.
const ENTRY_HAS_HASHBANG = readFileSync(join(ROOT, ENTRY), 'utf8').startsWith('#!');
const BANNER = [
  ...(ENTRY_HAS_HASHBANG ? [] : ['#!/usr/bin/env node']),
  `// Gridpresence meter agent ${version}, single-file build (npm run build:agent).`,
  "import { createRequire as __gpCreateRequire } from 'node:module';",
  'const require = __gpCreateRequire(import.meta.url);',
].join('\n');

async function bundleAgent() {
  mkdirSync(OUT_DIR, { recursive: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: BUNDLE,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: EXTERNAL,
    banner: { js: BANNER },
    // `--version` reads npm_package_version (set when run by npm); on a device nobody runs npm.
    define: { 'process.env.npm_package_version': JSON.stringify(version) },
    // Smaller, but function and class names stay as written, so stack traces read as the source.
    minifyWhitespace: true,
    minifySyntax: true,
    keepNames: true,
    legalComments: 'eof',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const forbidden = Object.keys(result.metafile.inputs).filter((input) =>
    FORBIDDEN.some((pattern) => pattern.test(input)),
  );
  if (forbidden.length > 0) {
    throw new Error(`the agent bundle must not contain:\n  ${forbidden.join('\n  ')}`);
  }
  chmodSync(BUNDLE, 0o755);
}

/** A broken bundle fails here, not on a device: it must at least start and know its version. */
function checkBundleStarts() {
  const printed = execFileSync(process.execPath, [BUNDLE, '--version'], {
    encoding: 'utf8',
  }).trim();
  if (printed !== version) {
    throw new Error(`the bundle printed version '${printed}', expected '${version}'`);
  }
}

/** What goes into the tarball: [source, name inside it, mode]. */
function tarballFiles() {
  const packaged = (name, mode = 0o644) => [join(PACKAGING, name), name, mode];
  return [
    [BUNDLE, 'meter-agent.mjs', 0o755],
    packaged('install.sh', 0o755),
    packaged('README.md'),
    packaged('config.example.json'),
    packaged('gridpresence-meter-agent.service'),
    packaged('openwrt-init', 0o755),
  ];
}

// A minimal ustar writer: the output is the same bytes for the same inputs, and owner and modes
// are root and what tarballFiles() says, whatever the checkout's umask or tar flavour.
const BLOCK = 512;
// SOURCE_DATE_EPOCH (reproducible-builds.org) makes the bytes repeatable; otherwise: now.
const MTIME = Number(process.env.SOURCE_DATE_EPOCH ?? Math.floor(Date.now() / 1000));

function tarHeader(name, size, mode, type) {
  const header = Buffer.alloc(BLOCK);
  const field = (offset, length, value) => header.write(value, offset, length, 'utf8');
  const octal = (offset, length, value) =>
    field(offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: name too long: ${name}`);
  field(0, 100, name);
  octal(100, 8, mode);
  octal(108, 8, 0); // uid
  octal(116, 8, 0); // gid
  octal(124, 12, size);
  octal(136, 12, MTIME);
  field(148, 8, '        '); // the checksum counts its own field as spaces
  field(156, 1, type);
  field(257, 8, 'ustar\u000000');
  field(265, 32, 'root');
  field(297, 32, 'root');
  let sum = 0;
  for (const byte of header) sum += byte;
  field(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return header;
}

function writeTarball(path) {
  const parts = [tarHeader(`${NAME}/`, 0, 0o755, '5')];
  for (const [source, name, mode] of tarballFiles()) {
    const content = readFileSync(source);
    parts.push(tarHeader(`${NAME}/${name}`, content.length, mode, '0'), content);
    const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
    parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(2 * BLOCK)); // end of archive
  writeFileSync(path, gzipSync(Buffer.concat(parts), { level: 9 }));
}

const kib = (path) => `${(statSync(path).size / 1024).toFixed(0)} KiB`;

const started = Date.now();
rmSync(OUT_DIR, { recursive: true, force: true });
await bundleAgent();
checkBundleStarts();
const tarball = join(OUT_DIR, `${NAME}.tar.gz`);
writeTarball(tarball);
const shown = (path) => relative(process.cwd(), path) || basename(path);
process.stdout.write(
  [
    `built the meter agent ${version} in ${Date.now() - started} ms`,
    `  bundle   ${shown(BUNDLE)}  ${kib(BUNDLE)}  (source map ${kib(`${BUNDLE}.map`)}, not shipped)`,
    `  tarball  ${shown(tarball)}  ${kib(tarball)}`,
    '',
  ].join('\n'),
);
