// `log.format: 'pretty'`: pino's JSON lines made readable for a person at a terminal,
//   14:02:03.117 INFO  presence: state changed state=restricted reason=load-limit seq=42
// A plain synchronous stream, no worker thread: pino transports (and pino-pretty, which uses
// them) do not survive the agent's single-file bundle. Pino redacts before it serialises, so
// what arrives here is already redacted; this only rearranges it.

/** Keys shown in the line's head, or dropped as noise at a terminal. */
const HEAD_KEYS = new Set(['level', 'time', 'msg', 'module', 'pid', 'hostname', 'name', 'v']);

const LEVEL_LABELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};

// ANSI SGR codes (ECMA-48), only when the destination is a terminal.
const LEVEL_COLOURS: Record<number, string> = {
  10: '90', // grey
  20: '36', // cyan
  30: '32', // green
  40: '33', // yellow
  50: '31', // red
  60: '1;41', // bold on red
};
const paint = (code: string, text: string) => `\u001b[${code}m${text}\u001b[0m`;

export interface PrettyOptions {
  /** ANSI colours: only for a terminal (never into a file or journald). */
  colour: boolean;
}

/** One pino JSON line (with or without its newline) as one readable line ending in '\n'. */
export function formatPrettyLine(line: string, options: PrettyOptions): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line) as Record<string, unknown>;
  } catch {
    // Not ours (or cut off): pass it on, made safe for a terminal.
    return `${escapeControl(line.replace(/\n$/, ''))}\n`;
  }
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
    return `${escapeControl(line.replace(/\n$/, ''))}\n`;
  }
  const c = options.colour ? paint : (_code: string, text: string) => text;
  const levelValue = typeof entry.level === 'number' ? entry.level : 30;
  const label = (LEVEL_LABELS[levelValue] ?? `L${levelValue}`).padEnd(5);
  const parts = [c('2', clockTime(entry.time)), c(LEVEL_COLOURS[levelValue] ?? '0', label)];
  const module = typeof entry.module === 'string' ? `${escapeControl(entry.module)}:` : '';
  if (module) parts.push(c('1', module));
  if (entry.msg !== undefined) parts.push(escapeControl(String(entry.msg)));
  for (const [key, value] of Object.entries(entry)) {
    if (HEAD_KEYS.has(key) || value === undefined) continue;
    parts.push(`${c('2', `${escapeControl(key)}=`)}${formatValue(value)}`);
  }
  return `${parts.join(' ')}\n`;
}

/** A write-only stream for pino that formats each line and hands it to `target`. */
export function prettyStream(
  target: { write(text: string): unknown },
  options: PrettyOptions,
): { write(line: string): void } {
  return {
    write(chunk: string) {
      // pino writes one entry per call; a chunk with several lines is still split safely.
      const lines = chunk.split('\n').filter((l) => l !== '');
      target.write(lines.map((l) => formatPrettyLine(l, options)).join(''));
    },
  };
}

/** HH:MM:SS.mmm of the entry's time in the local zone (the terminal's clock). */
function clockTime(time: unknown): string {
  const date =
    typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) return '--:--:--.---';
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}.${String(date.getMilliseconds()).padStart(3, '0')}`;
}

/** Bare when unambiguous; quoted (JSON) when it has spaces, quotes, '=' or is empty. */
function formatValue(value: unknown): string {
  if (typeof value === 'string') {
    return value === '' || /[\s"'=\\]|[^\x20-\x7e\u00a0-\uffff]/.test(value)
      ? escapeControl(JSON.stringify(value))
      : value;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) {
    return String(value);
  }
  // Objects and arrays (an `err` with its stack included) as compact JSON: one line per entry.
  return escapeControl(JSON.stringify(value) ?? String(value));
}

/**
 * A log line may quote what a stranger sent (a chat body, a JID); at a terminal, escape
 * sequences in it must not reach the screen, and a newline must not forge a second entry.
 */
function escapeControl(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (ch) => {
    const code = ch.charCodeAt(0);
    if (ch === '\n') return '\\n';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    return `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
