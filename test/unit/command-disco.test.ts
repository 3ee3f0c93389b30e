import xml from '@xmpp/xml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installCommands } from '../../meter-agent/commands/install-commands.js';
import { createAcl } from '../../meter-agent/security/acl.js';
import { answerDiscoInfo } from '../../meter-agent/xmpp/disco-handler.js';
import { silentLogger } from '../../src/log.js';
import { NS_COMMANDS, NS_DISCO_INFO, NS_DISCO_ITEMS, NS_X_DATA } from '../../src/protocol/index.js';
import { type CommandFixture, commandFixture, JIDS } from './helpers/command-fixture.js';
import { describeError, type FakeXmpp, fakeXmpp } from './helpers/fake-xmpp.js';

// XEP-0050 §2 through XEP-0030, wired as the agent wires it (installCommands + the disco
// handler): features, the command list per role, command nodes; strangers learn nothing.

let f: CommandFixture;
let x: FakeXmpp;
let stop: () => void;

beforeEach(() => {
  f = commandFixture();
  x = fakeXmpp();
  const acl = createAcl(
    [
      { jid: 'op@grid.example', role: 'operator' },
      { jid: 'viewer@grid.example', role: 'viewer' },
    ],
    JIDS.service,
  );
  const commands = installCommands({
    xmpp: x.client,
    acl,
    meter: f.meter,
    modes: f.modes,
    reporting: f.reporting,
    audit: { record: (entry) => f.audit.push(entry) },
    logger: silentLogger(),
    now: () => new Date(f.clock.ms),
    currentStatus: () => f.status,
    logLevel: f.logLevel,
    ownJid: 'mtr-0001@grid.example',
    serviceJid: JIDS.service,
  });
  stop = commands.stop;
  answerDiscoInfo({ xmpp: x.client, meterId: 'mtr-0001', kind: 'revenue-meter', acl, commands });
});
afterEach(() => {
  stop();
  f.cleanup();
});

const info = (from: string, node?: string) =>
  x.iq('get', from, xml('query', { xmlns: NS_DISCO_INFO, ...(node ? { node } : {}) }));
const items = (from: string, node?: string) =>
  x.iq('get', from, xml('query', { xmlns: NS_DISCO_ITEMS, ...(node ? { node } : {}) }));

describe('disco (XEP-0030, XEP-0050 §2)', () => {
  it('advertises commands and data forms', async () => {
    const features = (await info(JIDS.operator))?.getChildren('feature').map((e) => e.attrs.var);
    expect(features).toEqual(expect.arrayContaining([NS_COMMANDS, NS_X_DATA, NS_DISCO_ITEMS]));
  });

  it('lists the commands the requester may run, with this meter as their jid', async () => {
    const list = await items(JIDS.operator, NS_COMMANDS);
    expect(list?.attrs.node).toBe(NS_COMMANDS);
    expect(list?.getChildren('item').map((i) => [i.attrs.jid, i.attrs.node, i.attrs.name])).toEqual(
      [
        ['mtr-0001@grid.example/agent', 'urn:gridpresence:cmd:read', 'Read registers'],
        ['mtr-0001@grid.example/agent', 'urn:gridpresence:cmd:pq', 'Power quality'],
        ['mtr-0001@grid.example/agent', 'urn:gridpresence:cmd:relay', 'Service relay'],
        ['mtr-0001@grid.example/agent', 'urn:gridpresence:cmd:load-limit', 'Load limit'],
        ['mtr-0001@grid.example/agent', 'urn:gridpresence:cmd:maintenance', 'Maintenance mode'],
        ['mtr-0001@grid.example/agent', 'urn:gridpresence:cmd:reporting', 'Reporting interval'],
      ],
    );
    const viewerList = await items(JIDS.viewer, NS_COMMANDS);
    expect(viewerList?.getChildren('item').map((i) => i.attrs.node)).toEqual([
      'urn:gridpresence:cmd:read',
      'urn:gridpresence:cmd:pq',
    ]);
    expect((await items(JIDS.viewer))?.getChildren('item')).toEqual([]);
    expect(describeError(await items(JIDS.viewer, 'other')).condition).toBe('item-not-found');
  });

  it('describes the command list node and each command node', async () => {
    const listInfo = await info(JIDS.viewer, NS_COMMANDS);
    expect(listInfo?.getChild('identity')?.attrs).toMatchObject({
      category: 'automation',
      type: 'command-list',
    });
    const relay = await info(JIDS.operator, 'urn:gridpresence:cmd:relay');
    expect(relay?.getChild('identity')?.attrs).toMatchObject({
      category: 'automation',
      type: 'command-node',
      name: 'Service relay',
    });
    expect(relay?.getChildren('feature').map((e) => e.attrs.var)).toEqual([NS_COMMANDS, NS_X_DATA]);
    expect(describeError(await info(JIDS.viewer, 'urn:gridpresence:cmd:relay'))).toMatchObject({
      type: 'auth',
      condition: 'forbidden',
    });
    expect(describeError(await info(JIDS.viewer, 'urn:gridpresence:cmd:help')).condition).toBe(
      'item-not-found',
    );
  });

  it('answers a stranger service-unavailable for the nodes (the privacy gate covers the rest)', async () => {
    for (const answer of [
      await items(JIDS.stranger, NS_COMMANDS),
      await items(JIDS.stranger),
      await info(JIDS.stranger, NS_COMMANDS),
      await info(JIDS.stranger, 'nope'),
    ]) {
      expect(describeError(answer)).toMatchObject({
        type: 'cancel',
        condition: 'service-unavailable',
      });
    }
  });
});
