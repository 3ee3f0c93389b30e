import xml from '@xmpp/xml';
import { describe, expect, it } from 'vitest';
import {
  buildForm,
  buildSubmitForm,
  type DataForm,
  NS_X_DATA,
  parseForm,
  parseSubmittedForm,
} from '../../src/protocol/index.js';
import { parseXml } from './helpers/parse-xml.js';

// XEP-0004 data forms as PROTOCOL §4 uses them: every field with a type and a label.

const FORM: DataForm = {
  type: 'form',
  title: 'Service relay',
  instructions: 'Open or close the service relay.',
  fields: [
    {
      var: 'action',
      type: 'list-single',
      label: 'Action',
      required: true,
      options: [
        { value: 'open', label: 'Open' },
        { value: 'close', label: 'Close' },
      ],
    },
    { var: 'confirm', type: 'boolean', label: 'Confirm', required: true, value: 'false' },
    { var: 'registers', type: 'list-multi', label: 'Registers', value: ['1-0:1.8.0', '1-0:2.8.0'] },
    { var: 'note', type: 'text-single', label: 'Note', desc: 'shown in the presence' },
  ],
};

describe('buildForm / parseForm (XEP-0004 §3)', () => {
  it('round-trips a form through the wire', () => {
    const wire = parseXml(buildForm(FORM).toString());
    expect(wire.attrs.xmlns).toBe(NS_X_DATA);
    const parsed = parseForm(wire);
    expect(parsed).toEqual({ ok: true, value: FORM });
  });

  it('gives every field a type and a label, and marks required ones', () => {
    const x = buildForm(FORM);
    for (const field of x.getChildren('field')) {
      expect(field.attrs.type).toBeTruthy();
      expect(field.attrs.label).toBeTruthy();
    }
    expect(x.getChildByAttr('var', 'action')?.getChild('required')).toBeTruthy();
    expect(x.getChildByAttr('var', 'note')?.getChild('required')).toBeUndefined();
    const options = x.getChildByAttr('var', 'action')?.getChildren('option') ?? [];
    expect(options.map((o) => [o.attrs.label, o.getChildText('value')])).toEqual([
      ['Open', 'open'],
      ['Close', 'close'],
    ]);
  });

  it('builds a result form with several values in a text-multi field', () => {
    const result = buildForm({
      type: 'result',
      title: 'Power quality',
      fields: [{ var: 'events', type: 'text-multi', label: 'Events', value: ['a', 'b'] }],
    });
    expect(result.attrs.type).toBe('result');
    expect(
      result
        .getChild('field')
        ?.getChildren('value')
        .map((v) => v.getText()),
    ).toEqual(['a', 'b']);
  });

  it('refuses what is not a form or result', () => {
    expect(parseForm(xml('x', { xmlns: 'other' })).ok).toBe(false);
    expect(parseForm(xml('x', { xmlns: NS_X_DATA, type: 'submit' })).ok).toBe(false);
  });
});

describe('parseSubmittedForm (XEP-0004 §3.2)', () => {
  it('reads what buildSubmitForm wrote', () => {
    const values = {
      action: ['open'],
      confirm: ['true'],
      registers: ['1-0:1.8.0', '1-0:32.7.0'],
      empty: [],
    };
    expect(parseSubmittedForm(parseXml(buildSubmitForm(values).toString()))).toEqual({
      ok: true,
      value: values,
    });
  });

  it('reads a submission as a client writes it: types, labels and an echoed fixed field', () => {
    const x = parseXml(
      `<x xmlns='jabber:x:data' type='submit'>
         <field type='fixed'><value>Choose an interval</value></field>
         <field var='interval-s' type='text-single' label='Interval'><value> 300 </value></field>
       </x>`,
    );
    expect(parseSubmittedForm(x)).toEqual({ ok: true, value: { 'interval-s': [' 300 '] } });
    const noVar = parseXml(
      `<x xmlns='jabber:x:data' type='submit'><field><value>1</value></field></x>`,
    );
    expect(parseSubmittedForm(noVar)).toMatchObject({
      ok: false,
      error: expect.stringContaining('var'),
    });
  });

  it('refuses wrong namespaces, types, duplicates and oversized values, naming the field', () => {
    expect(parseSubmittedForm(xml('x', { xmlns: 'jabber:x:oob', type: 'submit' }))).toMatchObject({
      ok: false,
    });
    expect(parseSubmittedForm(xml('x', { xmlns: NS_X_DATA, type: 'form' }))).toMatchObject({
      ok: false,
      error: expect.stringContaining("'submit'"),
    });
    const twice = buildSubmitForm({ a: ['1'] });
    twice.append(xml('field', { var: 'a' }, xml('value', {}, '2')));
    expect(parseSubmittedForm(twice)).toMatchObject({
      ok: false,
      error: expect.stringContaining("'a'"),
    });
    const long = buildSubmitForm({ note: ['x'.repeat(2000)] });
    expect(parseSubmittedForm(long)).toMatchObject({
      ok: false,
      error: expect.stringContaining("'note'"),
    });
    const many = buildSubmitForm({ registers: Array.from({ length: 100 }, (_, i) => String(i)) });
    expect(parseSubmittedForm(many)).toMatchObject({
      ok: false,
      error: expect.stringContaining('registers'),
    });
  });
});
