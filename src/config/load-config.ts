import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ERROR_CODES, GridpresenceError } from '../errors.js';

// STYLE §6: one schema per app, parsed once at start; a bad value stops the program with a
// message naming the key. The file is JSON; environment variables override single keys.

export interface ConfigSource {
  /** Path of a JSON config file, if any. */
  file?: string;
  /** Environment to read overrides from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Env var name → dotted config key, e.g. { GP_XMPP_PASSWORD: 'xmpp.password' }. */
  envKeys?: Record<string, string>;
  /** Keys whose value may come from a file: `${key}File` in the config is read into `key`. */
  secretFileKeys?: string[];
}

export function loadConfig<S extends z.ZodType>(schema: S, source: ConfigSource): z.infer<S> {
  const raw: Record<string, unknown> = source.file ? readJsonFile(source.file) : {};
  const env = source.env ?? process.env;
  for (const [name, key] of Object.entries(source.envKeys ?? {})) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, key, value);
  }
  for (const key of source.secretFileKeys ?? []) {
    const fileKey = `${key}File`;
    const path = getPath(raw, fileKey);
    if (typeof path !== 'string') continue;
    // A value already there (the environment's, e.g. GP_XMPP_PASSWORD) wins over the file.
    if (getPath(raw, key) === undefined) {
      try {
        setPath(raw, key, readFileSync(path, 'utf8').trim());
      } catch (cause) {
        throw new GridpresenceError(
          ERROR_CODES.CONFIG_UNREADABLE,
          `config key '${fileKey}': cannot read ${path}`,
          { cause, hint: 'check the path and that this user may read it' },
        );
      }
    }
    deletePath(raw, fileKey);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // An unknown key is reported by zod on its parent object: name the key itself.
    const unknown = issue?.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
    const key = [...(issue?.path ?? []), ...(unknown ? [unknown] : [])].join('.') || '(root)';
    throw new GridpresenceError(
      ERROR_CODES.CONFIG_INVALID,
      `config key '${key}': ${issue?.message ?? 'invalid'}`,
      { hint: source.file ? `fix '${key}' in ${source.file}` : `set '${key}'` },
    );
  }
  return parsed.data;
}

function readJsonFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new GridpresenceError(ERROR_CODES.CONFIG_UNREADABLE, `cannot read config file ${file}`, {
      cause,
      hint: 'pass --config with the path of a readable JSON file',
    });
  }
  try {
    const value: unknown = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new Error('the top level must be a JSON object');
    }
    return value as Record<string, unknown>;
  } catch (cause) {
    throw new GridpresenceError(
      ERROR_CODES.CONFIG_INVALID,
      `config file ${file} is not valid JSON: ${(cause as Error).message}`,
      { cause },
    );
  }
}

function getPath(target: Record<string, unknown>, key: string): unknown {
  let node: unknown = target;
  for (const part of key.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

function setPath(target: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (next === null || typeof next !== 'object') node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

function deletePath(target: Record<string, unknown>, key: string): void {
  const parts = key.split('.');
  const parent = getPath(target, parts.slice(0, -1).join('.'));
  const holder = parts.length === 1 ? target : parent;
  if (holder && typeof holder === 'object') {
    delete (holder as Record<string, unknown>)[parts[parts.length - 1] as string];
  }
}
