import { meterBareJid } from '../../src/protocol/index.js';
import type { MeterRegistry } from '../store/meter-registry.js';
import type { AccountProvisioner } from './account-provisioner.js';
import type { ImportRow } from './import-rows.js';
import { provisioningFailed } from './meter-lifecycle.js';

// Creating thousands of meters: accounts in batches (one provisioner call per chunk: with
// prosodyctl one call makes 500 accounts in about a second, one call per account would take
// minutes), then the registry rows of that chunk in one transaction. Chunk by chunk, so after a
// failure the registry holds exactly the meters whose accounts exist, and re-running the same
// import carries on (existing ids are skipped).

export const IMPORT_CHUNK_SIZE = 500;

export interface ImportProgress {
  done: number;
  total: number;
}

export class ImportInterrupted extends Error {
  readonly imported: number;

  constructor(imported: number, cause: Error) {
    super(cause.message, { cause });
    this.name = 'ImportInterrupted';
    this.imported = imported;
  }
}

/**
 * Imports rows that all have a password (generated ones already saved by the caller).
 * Throws ImportInterrupted, carrying how many were imported, if a chunk fails.
 */
export async function importMeters(
  deps: { registry: MeterRegistry; provisioner: AccountProvisioner; domain: string },
  rows: ReadonlyArray<ImportRow & { password: string }>,
  options: { chunkSize?: number; onProgress?: (progress: ImportProgress) => void } = {},
): Promise<{ imported: number; skipped: string[] }> {
  const chunkSize = options.chunkSize ?? IMPORT_CHUNK_SIZE;
  const skipped: string[] = [];
  let imported = 0;
  for (let start = 0; start < rows.length; start += chunkSize) {
    const chunk = rows.slice(start, start + chunkSize);
    try {
      await deps.provisioner.createAccounts(
        chunk.map((row) => ({ username: row.id, password: row.password })),
      );
    } catch (cause) {
      const first = meterBareJid(chunk[0]?.id ?? '?', deps.domain);
      throw new ImportInterrupted(
        imported,
        provisioningFailed(`creating ${chunk.length} accounts (from ${first})`, cause),
      );
    }
    try {
      const result = deps.registry.addMany(
        chunk.map(({ id, kind, email, groups }) => ({
          id,
          kind,
          email,
          groups,
          domain: deps.domain,
        })),
      );
      imported += result.added;
      skipped.push(...result.skipped);
    } catch (cause) {
      throw new ImportInterrupted(imported, cause as Error);
    }
    options.onProgress?.({ done: Math.min(start + chunkSize, rows.length), total: rows.length });
  }
  return { imported, skipped };
}
