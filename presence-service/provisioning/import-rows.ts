import { validateMeterInput } from '../store/meter-input.js';
import type { NewMeter } from './meter-lifecycle.js';
import { passwordProblem } from './passwords.js';

// The rows of a meter import file (`meters import`), checked all at once so the operator
// fixes every bad row in one go and nothing is imported from a file with mistakes in it.

export const IMPORT_COLUMNS = ['id', 'password', 'kind', 'groups', 'email'] as const;
type Column = (typeof IMPORT_COLUMNS)[number];

export interface ImportRow extends NewMeter {
  /** Where the row starts in the file. */
  line: number;
}

export type ImportCheck = { ok: true; rows: ImportRow[] } | { ok: false; errors: string[] };

/**
 * Reads parsed CSV records (header first) into meters. Columns: `id` (required), `password`,
 * `kind`, `groups` (separated by ';'), `email`, in any order; empty cells mean "not given".
 */
export function checkImportRows(
  records: ReadonlyArray<{ line: number; fields: string[] }>,
  domain: string,
): ImportCheck {
  const [header, ...body] = records;
  if (!header) return { ok: false, errors: ['the file is empty; it needs a header row with id'] };
  const columns = readHeader(header);
  if (!columns.ok) return { ok: false, errors: columns.errors };

  const errors: string[] = [];
  const rows: ImportRow[] = [];
  const firstLine = new Map<string, number>();
  for (const record of body) {
    const problems: string[] = [];
    if (record.fields.length !== columns.names.length) {
      errors.push(
        `line ${record.line}: expected ${columns.names.length} fields like the header, found ${record.fields.length}`,
      );
      continue;
    }
    const cell = (name: Column): string | undefined => {
      const index = columns.names.indexOf(name);
      const value = index === -1 ? undefined : record.fields[index];
      // Passwords are taken as written; every other cell forgives stray spaces.
      const cleaned = name === 'password' ? value : value?.trim();
      return cleaned === '' ? undefined : cleaned;
    };
    const row: ImportRow = { line: record.line, id: cell('id') ?? '' };
    const kind = cell('kind');
    const email = cell('email');
    const groups = cell('groups');
    const password = cell('password');
    if (kind !== undefined) row.kind = kind;
    if (email !== undefined) row.email = email;
    if (groups !== undefined) {
      row.groups = groups
        .split(';')
        .map((g) => g.trim())
        .filter((g) => g !== '');
    }
    if (password !== undefined) row.password = password;

    if (row.id === '') problems.push('id is empty');
    else {
      const checked = validateMeterInput({ ...row, domain });
      if (!checked.ok) problems.push(checked.error);
      const seen = firstLine.get(row.id);
      if (seen !== undefined) problems.push(`id '${row.id}' already appears on line ${seen}`);
      else firstLine.set(row.id, row.line);
    }
    const weak = password === undefined ? undefined : passwordProblem(password);
    if (weak) problems.push(weak);

    if (problems.length > 0) errors.push(`line ${record.line}: ${problems.join('; ')}`);
    else rows.push(row);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, rows };
}

function readHeader(header: {
  line: number;
  fields: string[];
}): { ok: true; names: Array<Column | string> } | { ok: false; errors: string[] } {
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const errors: string[] = [];
  for (const name of names) {
    if (!(IMPORT_COLUMNS as readonly string[]).includes(name)) {
      errors.push(
        `line ${header.line}: unknown column '${name}' (columns: ${IMPORT_COLUMNS.join(', ')})`,
      );
    }
  }
  const duplicates = names.filter((name, i) => names.indexOf(name) !== i);
  for (const name of new Set(duplicates)) {
    errors.push(`line ${header.line}: column '${name}' appears twice`);
  }
  if (!names.includes('id')) errors.push(`line ${header.line}: the header has no 'id' column`);
  return errors.length > 0 ? { ok: false, errors } : { ok: true, names };
}
