import type { CommandName, RawArgs } from './commands.js';

// PROTOCOL §5: the chat lines, read into the same raw form values an ad-hoc submission carries,
// so both doors share one parser per command (a bad value is named by its form field). One
// grammar, two users: the meter agent's chat door and the presence service's group door (§7).
// Keywords are case-insensitive; words are separated by any whitespace.

export type ChatLine = { kind: 'command'; name: CommandName; raw: RawArgs } | { kind: 'unknown' };

/** What `help` shows, per command. */
export const CHAT_SYNTAX: Record<CommandName, string> = {
  help: 'help — this list',
  status: 'status — the meter’s presence state',
  read: 'read [register…] — registers by OBIS id (none = all)',
  pq: 'pq [minutes] — power quality and recent events (default 15 min)',
  relay: 'relay open confirm | relay close confirm — operate the service relay',
  'load-limit': 'limit <kW> <minutes> | limit clear — load limit',
  maintenance: 'maintenance on [note] | maintenance off — maintenance mode',
  reporting: 'interval <seconds> — reporting interval (5-86400)',
  'log-level':
    'log <level> [minutes] — log level fatal|error|warn|info|debug|trace, back to the configured one after the minutes (default 60, 0 = keep)',
};

export function parseChatLine(body: string): ChatLine {
  const words = body.trim().split(/\s+/);
  const keyword = (words[0] ?? '').toLowerCase();
  const rest = words.slice(1);
  const lower = rest.map((w) => w.toLowerCase());
  const command = (name: CommandName, raw: RawArgs = {}): ChatLine => ({
    kind: 'command',
    name,
    raw,
  });
  switch (keyword) {
    case 'help':
    case 'status':
      return rest.length === 0 ? command(keyword) : { kind: 'unknown' };
    case 'read':
      return command('read', { registers: rest });
    case 'pq':
      if (rest.length > 1) return { kind: 'unknown' };
      return command('pq', rest.length === 1 ? { 'window-min': rest } : {});
    case 'relay': {
      // `relay open` without `confirm` reaches the command, which names the missing field.
      if (rest.length < 1 || rest.length > 2) return { kind: 'unknown' };
      if (rest.length === 2 && lower[1] !== 'confirm') return { kind: 'unknown' };
      const raw: RawArgs = { action: [lower[0] as string] };
      if (lower[1] === 'confirm') raw.confirm = ['true'];
      return command('relay', raw);
    }
    case 'limit':
      if (rest.length === 1 && lower[0] === 'clear')
        return command('load-limit', { clear: ['true'] });
      if (rest.length === 2) {
        return command('load-limit', {
          'limit-kw': [rest[0] as string],
          'duration-min': [rest[1] as string],
        });
      }
      return { kind: 'unknown' };
    case 'maintenance':
      if (lower[0] === 'on') {
        const note = body.trim().replace(/^\S+\s+\S+\s*/, '');
        return command('maintenance', { enable: ['true'], ...(note ? { note: [note] } : {}) });
      }
      if (lower[0] === 'off' && rest.length === 1)
        return command('maintenance', { enable: ['false'] });
      return { kind: 'unknown' };
    case 'interval':
      return rest.length === 1 ? command('reporting', { 'interval-s': rest }) : { kind: 'unknown' };
    case 'log':
      // docs/protocol.md extension: `log <level> [minutes]`.
      if (rest.length < 1 || rest.length > 2) return { kind: 'unknown' };
      return command('log-level', {
        level: [lower[0] as string],
        ...(rest.length === 2 ? { minutes: [rest[1] as string] } : {}),
      });
    default:
      return { kind: 'unknown' };
  }
}
