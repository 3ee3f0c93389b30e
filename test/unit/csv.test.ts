import { describe, expect, it } from 'vitest';
import {
  CsvSyntaxError,
  formatCsv,
  formatCsvField,
  parseCsv,
} from '../../presence-service/cli/csv.js';

const fields = (text: string) => parseCsv(text).map((r) => r.fields);

describe('parseCsv', () => {
  it('reads plain records with LF or CRLF line ends, skipping blank lines', () => {
    expect(fields('id,kind\nm-1,relay\n')).toEqual([
      ['id', 'kind'],
      ['m-1', 'relay'],
    ]);
    expect(fields('id,kind\r\nm-1,relay\r\n\r\nm-2,\r\n')).toEqual([
      ['id', 'kind'],
      ['m-1', 'relay'],
      ['m-2', ''],
    ]);
    expect(fields('a,b')).toEqual([['a', 'b']]);
    expect(fields('')).toEqual([]);
    expect(fields('\n\n')).toEqual([]);
  });

  it('handles quotes, doubled quotes, commas and line breaks inside quotes', () => {
    expect(fields('"a,b","say ""hi""",""\n')).toEqual([['a,b', 'say "hi"', '']]);
    expect(fields('"two\r\nlines",x\r\n')).toEqual([['two\r\nlines', 'x']]);
    expect(fields('""\n')).toEqual([['']]);
  });

  it('keeps empty fields, including trailing ones', () => {
    expect(fields(',\n')).toEqual([['', '']]);
    expect(fields('a,,c,\n')).toEqual([['a', '', 'c', '']]);
  });

  it('numbers records by the line they start on', () => {
    const records = parseCsv('id\n\n"m-1\nstill m-1"\nm-2\r\nm-3');
    expect(records.map((r) => r.line)).toEqual([1, 3, 5, 6]);
  });

  it('ignores a byte-order mark', () => {
    expect(fields('\uFEFFid\nm-1\n')).toEqual([['id'], ['m-1']]);
  });

  it('reports syntax errors with the line', () => {
    expect(() => parseCsv('id\n"m-1\n')).toThrow(CsvSyntaxError);
    expect(() => parseCsv('id\n"m-1\n')).toThrow(/^line 2: a quoted field is never closed/);
    expect(() => parseCsv('id\nm"1\n')).toThrow(/^line 2: a quote inside an unquoted field/);
    expect(() => parseCsv('a\n"m-1"x,y\n')).toThrow(/^line 2: only a comma or a line end/);
    try {
      parseCsv('a\nb\n"c');
    } catch (error) {
      expect((error as CsvSyntaxError).line).toBe(3);
    }
  });
});

describe('formatCsv', () => {
  it('quotes only what needs quoting, with CRLF line ends', () => {
    expect(formatCsvField('plain')).toBe('plain');
    expect(formatCsvField('a,b')).toBe('"a,b"');
    expect(formatCsvField('say "hi"')).toBe('"say ""hi"""');
    expect(
      formatCsv([
        ['id', 'jid', 'password'],
        ['m-1', 'm-1@grid.example', 'x"y'],
      ]),
    ).toBe('id,jid,password\r\nm-1,m-1@grid.example,"x""y"\r\n');
  });

  it('round-trips through the parser', () => {
    const rows = [
      ['a', 'b,c', 'd"e', 'f\r\ng', ''],
      ['', '', '', '', 'x'],
    ];
    expect(fields(formatCsv(rows))).toEqual(rows);
  });
});
