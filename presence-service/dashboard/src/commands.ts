import { ApiError, api } from './api.js';
import { h, replaceChildren } from './dom.js';
import { REGISTER_LABELS } from './registers.js';

// The meter page's commands (PROTOCOL §4 through POST /api/meters/:id/commands), shown only to
// operators and admins (viewers may not change anything, and the service refuses them anyway).
// Operating the relay asks first, in a modal dialog that names the meter.

interface CommandResult {
  outcome: 'ok';
  fields: Record<string, string[]>;
  note: string;
  durationMs: number;
}

type Args = Record<string, string[]>;

export function createCommandPanel(meterId: string, onDone: () => void): HTMLElement {
  const output = h('output', { class: 'command-output', 'aria-live': 'polite' });
  const buttons: HTMLButtonElement[] = [];
  const button = (label: string, onclick: () => void, className = '') => {
    const b = h('button', { type: 'button', class: className, onclick }, label);
    buttons.push(b);
    return b;
  };

  const dialogText = h('p', { id: 'confirm-text' });
  const confirmButton = h(
    'button',
    { type: 'submit', value: 'confirm', class: 'danger' },
    'Confirm',
  );
  const dialog = h(
    'dialog',
    { class: 'confirm', 'aria-labelledby': 'confirm-title', 'aria-describedby': 'confirm-text' },
    h(
      'form',
      { method: 'dialog' },
      h('h2', { id: 'confirm-title' }, 'Please confirm'),
      dialogText,
      h(
        'div',
        { class: 'actions' },
        h('button', { type: 'submit', value: 'cancel', autofocus: true }, 'Cancel'),
        confirmButton,
      ),
    ),
  );

  function confirm(text: string, action: string): Promise<boolean> {
    dialogText.textContent = text;
    confirmButton.textContent = action;
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), {
        once: true,
      });
    });
  }

  async function run(command: string, args: Args, label: string) {
    for (const b of buttons) b.disabled = true;
    replaceChildren(output, `${label}…`);
    output.className = 'command-output';
    try {
      const result = await api<CommandResult>(
        `/api/meters/${encodeURIComponent(meterId)}/commands`,
        {
          method: 'POST',
          body: { command, args },
        },
      );
      output.classList.add('ok');
      replaceChildren(
        output,
        h('strong', {}, `${label}: done`),
        ` in ${(result.durationMs / 1000).toFixed(1)} s. `,
        result.note,
        fieldsTable(result.fields),
      );
      onDone();
    } catch (error) {
      output.classList.add('failed');
      const e = error as Error;
      replaceChildren(
        output,
        h('strong', {}, `${label} failed: `),
        e instanceof ApiError ? `${e.message} (${e.code})` : e.message,
      );
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  const limitKw = h('input', {
    id: 'limit-kw',
    type: 'number',
    min: '0.1',
    max: '10000',
    step: '0.1',
    value: '5',
    inputmode: 'decimal',
  });
  const limitMin = h('input', {
    id: 'limit-min',
    type: 'number',
    min: '1',
    max: '1440',
    step: '1',
    value: '60',
    inputmode: 'numeric',
  });
  const note = h('input', { id: 'maintenance-note', maxlength: '200', placeholder: 'optional' });
  const interval = h('input', {
    id: 'interval-s',
    type: 'number',
    min: '5',
    max: '86400',
    step: '1',
    value: '60',
    inputmode: 'numeric',
  });

  return h(
    'div',
    { class: 'commands' },
    h(
      'div',
      { class: 'command-row' },
      button('Read registers', () => void run('read', {}, 'Read registers')),
      button(
        'Power quality (15 min)',
        () => void run('pq', { 'window-min': ['15'] }, 'Power quality'),
      ),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Service relay'),
      button(
        'Open relay…',
        async () => {
          const ok = await confirm(
            `Open the service relay of ${meterId}? The customer's supply is cut until it is closed again.`,
            'Open relay',
          );
          if (ok) await run('relay', { action: ['open'], confirm: ['true'] }, 'Open relay');
        },
        'danger',
      ),
      button('Close relay…', async () => {
        const ok = await confirm(
          `Close the service relay of ${meterId}? Supply is restored.`,
          'Close relay',
        );
        if (ok) await run('relay', { action: ['close'], confirm: ['true'] }, 'Close relay');
      }),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Load limit'),
      h('div', { class: 'field inline' }, h('label', { for: 'limit-kw' }, 'Limit (kW)'), limitKw),
      h(
        'div',
        { class: 'field inline' },
        h('label', { for: 'limit-min' }, 'For (minutes)'),
        limitMin,
      ),
      button(
        'Apply limit',
        () =>
          void run(
            'load-limit',
            { 'limit-kw': [limitKw.value], 'duration-min': [limitMin.value] },
            'Load limit',
          ),
      ),
      button('Clear limit', () => void run('load-limit', { clear: ['true'] }, 'Clear load limit')),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Maintenance mode'),
      h('div', { class: 'field inline' }, h('label', { for: 'maintenance-note' }, 'Note'), note),
      button(
        'Start maintenance',
        () =>
          void run(
            'maintenance',
            { enable: ['true'], ...(note.value ? { note: [note.value] } : {}) },
            'Start maintenance',
          ),
      ),
      button(
        'End maintenance',
        () => void run('maintenance', { enable: ['false'] }, 'End maintenance'),
      ),
    ),
    h(
      'fieldset',
      {},
      h('legend', {}, 'Reporting interval'),
      h('div', { class: 'field inline' }, h('label', { for: 'interval-s' }, 'Seconds'), interval),
      button(
        'Set interval',
        () => void run('reporting', { 'interval-s': [interval.value] }, 'Reporting interval'),
      ),
    ),
    output,
    dialog,
  );
}

function fieldsTable(fields: Record<string, string[]>): HTMLElement | null {
  const entries = Object.entries(fields);
  if (entries.length === 0) return null;
  return h(
    'table',
    { class: 'compact' },
    h('caption', { class: 'sr-only' }, 'Result'),
    h(
      'tbody',
      {},
      ...entries.map(([name, values]) =>
        h(
          'tr',
          {},
          h('th', { scope: 'row' }, REGISTER_LABELS[name] ?? name),
          h('td', {}, values.join(', ')),
        ),
      ),
    ),
  );
}
