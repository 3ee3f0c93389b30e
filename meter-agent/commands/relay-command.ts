import type { MeterModel } from '../meter/model.js';
import type { CommandDefinition } from './command.js';
import { badField, booleanValue, clip, commandNode, requiredValue } from './field-values.js';

// PROTOCOL §4 relay (operator): opens or closes the service relay. `confirm` must be true, so
// a form submitted with its defaults operates nothing. Closing during a lockout is refused by
// the driver (MeterControlError 'relay-lockout' → cancel/not-allowed).

export interface RelayArgs {
  action: 'open' | 'close';
}

export function createRelayCommand(deps: { meter: MeterModel }): CommandDefinition<RelayArgs> {
  const { meter } = deps;
  return {
    name: 'relay',
    node: commandNode('relay'),
    label: 'Service relay',
    role: 'operator',
    marksActive: true,
    changesMeter: (args) =>
      meter.condition().relay !== (args.action === 'open' ? 'open' : 'closed'),
    supported: meter.supportsRelay,
    form: () => ({
      title: 'Service relay',
      instructions: 'Open or close the service relay. Opening disconnects the premises.',
      fields: [
        {
          var: 'action',
          type: 'list-single',
          label: 'Action',
          required: true,
          options: [
            { value: 'open', label: 'Open (disconnect)' },
            { value: 'close', label: 'Close (reconnect)' },
          ],
        },
        {
          var: 'confirm',
          type: 'boolean',
          label: 'I confirm this relay operation',
          required: true,
          value: 'false',
        },
      ],
    }),
    parse(raw) {
      const action = requiredValue(raw, 'action');
      if (action !== 'open' && action !== 'close') {
        throw badField('action', `'${clip(action)}' is neither open nor close`);
      }
      if (!booleanValue(raw, 'confirm', false)) {
        throw badField('confirm', `must be true to ${action} the relay`);
      }
      return { action };
    },
    run(args) {
      meter.setRelay(args.action);
      const relay = meter.condition().relay;
      const text =
        relay === 'lockout' ? 'Relay is locked out (open); nothing changed.' : `Relay ${relay}.`;
      return {
        title: 'Service relay',
        fields: [{ var: 'relay', type: 'text-single', label: 'Relay state', value: relay }],
        text,
      };
    },
  };
}
