import xml, { type Element } from '@xmpp/xml';
import { z } from 'zod';
import { NS_X_DATA } from './namespaces.js';
import { fail, ok, type Parsed } from './result.js';

// XEP-0004 data forms: the forms a command shows, the results it returns and the values a
// client submits (PROTOCOL §4). Every field we build has a `type` and a `label`: some clients
// (Profanity) show nothing without them.

/** XEP-0004 §3.3 field types we use. */
export type DataFormFieldType =
  | 'boolean'
  | 'fixed'
  | 'hidden'
  | 'list-multi'
  | 'list-single'
  | 'text-multi'
  | 'text-single';

const FIELD_TYPES: readonly DataFormFieldType[] = [
  'boolean',
  'fixed',
  'hidden',
  'list-multi',
  'list-single',
  'text-multi',
  'text-single',
];

export interface DataFormField {
  var: string;
  type: DataFormFieldType;
  label: string;
  required?: boolean;
  /** Default (form) or value (result); list-multi and text-multi carry several. */
  value?: string | string[];
  /** list-single / list-multi choices (XEP-0004 §3.3). */
  options?: Array<{ value: string; label: string }>;
  desc?: string;
}

export interface DataForm {
  type: 'form' | 'result';
  title?: string;
  instructions?: string;
  fields: DataFormField[];
}

/** Submitted values per field var, as strings (XEP-0004 §3.2 `submit`). */
export type FormValues = Record<string, string[]>;

// Bounds for what we accept from the wire (STYLE §9): a command form has a handful of fields.
export const FORM_LIMITS = { fields: 64, valuesPerField: 64, valueChars: 1024 } as const;

/** XEP-0004 §3.1: a `form` to fill in or a `result` to show. */
export function buildForm(form: DataForm): Element {
  const children: Element[] = [];
  if (form.title !== undefined) children.push(xml('title', {}, form.title));
  if (form.instructions !== undefined) children.push(xml('instructions', {}, form.instructions));
  for (const field of form.fields) children.push(buildField(field));
  return xml('x', { xmlns: NS_X_DATA, type: form.type }, ...children);
}

function buildField(field: DataFormField): Element {
  const attrs: Record<string, string> = { type: field.type, label: field.label };
  // XEP-0004 §3.2: every field but `fixed` has a var.
  if (field.type !== 'fixed' || field.var) attrs.var = field.var;
  const children: Element[] = [];
  if (field.desc !== undefined) children.push(xml('desc', {}, field.desc));
  if (field.required) children.push(xml('required'));
  for (const value of valuesOf(field.value)) children.push(xml('value', {}, value));
  for (const option of field.options ?? []) {
    children.push(xml('option', { label: option.label }, xml('value', {}, option.value)));
  }
  return xml('field', attrs, ...children);
}

/** XEP-0004 §3.2: the `submit` form a client sends back. */
export function buildSubmitForm(values: FormValues): Element {
  return xml(
    'x',
    { xmlns: NS_X_DATA, type: 'submit' },
    ...Object.entries(values).map(([name, list]) =>
      xml('field', { var: name }, ...list.map((value) => xml('value', {}, value))),
    ),
  );
}

const submittedFieldSchema = z.object({
  var: z
    .string({ error: 'a submitted field needs a var' })
    .min(1, 'a submitted field needs a var')
    .max(256),
  values: z
    .array(
      z
        .string()
        .max(FORM_LIMITS.valueChars, `values are at most ${FORM_LIMITS.valueChars} characters`),
    )
    .max(FORM_LIMITS.valuesPerField, `at most ${FORM_LIMITS.valuesPerField} values per field`),
});

/**
 * Reads a submitted form (`<x xmlns='jabber:x:data' type='submit'>`) into raw strings per field.
 * Never throws; a malformed form is a typed error naming the problem.
 */
export function parseSubmittedForm(x: Element): Parsed<FormValues> {
  if (x.name !== 'x' || x.attrs.xmlns !== NS_X_DATA)
    return fail(`expected <x xmlns='${NS_X_DATA}'>`);
  if (x.attrs.type !== 'submit')
    return fail(`expected a form of type 'submit', got '${x.attrs.type ?? ''}'`);
  const fields = x.getChildren('field');
  if (fields.length > FORM_LIMITS.fields) return fail(`at most ${FORM_LIMITS.fields} fields`);
  const values: FormValues = {};
  for (const field of fields) {
    // A client echoing a `fixed` label back (it has no var) submits nothing.
    if (field.attrs.var === undefined && field.attrs.type === 'fixed') continue;
    const parsed = submittedFieldSchema.safeParse({
      var: field.attrs.var,
      values: field.getChildren('value').map((v) => v.getText()),
    });
    if (!parsed.success) {
      const name = typeof field.attrs.var === 'string' ? `field '${field.attrs.var}': ` : '';
      return fail(`${name}${parsed.error.issues[0]?.message ?? 'invalid field'}`);
    }
    // XEP-0004 §3.2: a var is unique within a form.
    if (Object.hasOwn(values, parsed.data.var))
      return fail(`field '${parsed.data.var}' appears twice`);
    values[parsed.data.var] = parsed.data.values;
  }
  return ok(values);
}

/**
 * Reads a `form` or `result` (what a client shows), for programs that run our commands (the
 * presence service, tests). Never throws.
 */
export function parseForm(x: Element): Parsed<DataForm> {
  if (x.name !== 'x' || x.attrs.xmlns !== NS_X_DATA)
    return fail(`expected <x xmlns='${NS_X_DATA}'>`);
  const type = x.attrs.type;
  if (type !== 'form' && type !== 'result')
    return fail(`expected type 'form' or 'result', got '${type ?? ''}'`);
  const form: DataForm = { type, fields: [] };
  const title = x.getChildText('title');
  if (title !== null) form.title = title;
  const instructions = x.getChildText('instructions');
  if (instructions !== null) form.instructions = instructions;
  for (const field of x.getChildren('field').slice(0, FORM_LIMITS.fields)) {
    const fieldType = (field.attrs.type ?? 'text-single') as DataFormFieldType;
    if (!FIELD_TYPES.includes(fieldType)) return fail(`field type '${fieldType}' is not supported`);
    const parsed: DataFormField = {
      var: String(field.attrs.var ?? ''),
      type: fieldType,
      label: String(field.attrs.label ?? ''),
    };
    if (field.getChild('required')) parsed.required = true;
    const desc = field.getChildText('desc');
    if (desc !== null) parsed.desc = desc;
    const values = field.getChildren('value').map((v) => v.getText());
    if (values.length > 0) {
      parsed.value = isMultiValued(fieldType) ? values : (values[0] as string);
    }
    const options = field.getChildren('option').map((o) => ({
      value: o.getChildText('value') ?? '',
      label: String(o.attrs.label ?? ''),
    }));
    if (options.length > 0) parsed.options = options;
    form.fields.push(parsed);
  }
  return ok(form);
}

function isMultiValued(type: DataFormFieldType): boolean {
  return type === 'list-multi' || type === 'text-multi';
}

function valuesOf(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}
