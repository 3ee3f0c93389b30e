// Lua literals for the config file and for lines sent to `prosodyctl shell`. Values such as
// passwords can hold any byte; escaping everything but a safe set as `\ddd` (Lua 5.1–5.4
// manual §2.1 / §3.1, "Lexical Conventions") keeps them from ending the string or the line.

const SAFE = /[A-Za-z0-9 _.,:@*+=/-]/;

export function luaString(value: string): string {
  let out = '"';
  for (const byte of Buffer.from(value, 'utf8')) {
    const char = String.fromCharCode(byte);
    out += byte < 0x80 && SAFE.test(char) ? char : `\\${byte.toString().padStart(3, '0')}`;
  }
  return `${out}"`;
}

/** `{ "a", "b" }` / `{ 5222 }`, the shape Prosody's list options take. */
export function luaList(values: ReadonlyArray<string | number>): string {
  if (values.length === 0) return '{}';
  const items = values.map((value) =>
    typeof value === 'number' ? String(value) : luaString(value),
  );
  return `{ ${items.join(', ')} }`;
}
