// RFC 4180 CSV, just enough for meter import files and credential exports: quoted fields,
// doubled quotes, commas and line breaks inside quotes, CRLF or LF line ends. Written here
// rather than added as a dependency because it is this small (STYLE §11).

export interface CsvRecord {
  /** The 1-based line on which the record starts, for error messages. */
  line: number;
  fields: string[];
}

export class CsvSyntaxError extends Error {
  readonly line: number;

  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = 'CsvSyntaxError';
    this.line = line;
  }
}

/**
 * Parses CSV text into records. Blank lines are skipped (a file often ends with one); a UTF-8
 * byte-order mark, as spreadsheet programs write, is ignored. Throws CsvSyntaxError.
 */
export function parseCsv(text: string): CsvRecord[] {
  const input = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let inQuotes = false;
  /** The current field was quoted and its closing quote has been read. */
  let closed = false;
  /** The current record has content (so a lone `""` line is a record, an empty line is not). */
  let started = false;

  const endField = () => {
    fields.push(field);
    field = '';
    closed = false;
  };
  const endRecord = () => {
    endField();
    if (started) records.push({ line: recordLine, fields });
    fields = [];
    started = false;
  };

  for (let i = 0; i < input.length; i++) {
    const c = input[i] as string;
    if (inQuotes) {
      if (c === '"') {
        if (input[i + 1] === '"') {
          field += '"';
          i++;
        } else {
          inQuotes = false;
          closed = true;
        }
      } else {
        if (c === '\n' || (c === '\r' && input[i + 1] !== '\n')) line++;
        field += c;
      }
      continue;
    }
    if (c === ',') {
      started = true;
      endField();
    } else if (c === '\r' || c === '\n') {
      if (c === '\r' && input[i + 1] === '\n') i++;
      endRecord();
      line++;
      recordLine = line;
    } else if (closed) {
      throw new CsvSyntaxError(line, 'only a comma or a line end may follow a closing quote');
    } else if (c === '"') {
      if (field !== '') {
        throw new CsvSyntaxError(line, 'a quote inside an unquoted field (quote the whole field)');
      }
      inQuotes = true;
      started = true;
    } else {
      field += c;
      started = true;
    }
  }
  if (inQuotes) throw new CsvSyntaxError(recordLine, 'a quoted field is never closed');
  endRecord();
  return records;
}

/** Quotes a field only when it must be quoted (RFC 4180 §2.6, §2.7). */
export function formatCsvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** Formats records with CRLF line ends (RFC 4180 §2.1), ending with one. */
export function formatCsv(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  return rows.map((row) => `${row.map(formatCsvField).join(',')}\r\n`).join('');
}
