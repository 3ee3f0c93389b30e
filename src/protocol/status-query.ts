import xml, { type Element } from '@xmpp/xml';
import { buildMeterElement, type MeterStatus, parseMeterElement } from './meter-status.js';
import { NS_METER } from './namespaces.js';
import { fail, type Parsed } from './result.js';

// PROTOCOL §3: <iq type='get'><status xmlns='urn:gridpresence:meter:1'/></iq>, answered with the
// same <meter/> as the last presence, inside <status/>.

export function buildStatusQuery(): Element {
  return xml('status', { xmlns: NS_METER });
}

export function buildStatusAnswer(status: MeterStatus): Element {
  return xml('status', { xmlns: NS_METER }, buildMeterElement(status, false));
}

/** Reads the <status/> payload of a result IQ. */
export function parseStatusAnswer(payload: Element | undefined): Parsed<MeterStatus> {
  if (payload?.name !== 'status' || payload.attrs.xmlns !== NS_METER) {
    return fail(`expected <status xmlns='${NS_METER}'>`);
  }
  const meter = payload.getChild('meter');
  if (!meter) return fail('status answer without <meter/>');
  // The child inherits the namespace of <status/>; ltx only reports explicit xmlns attributes.
  const withNs = meter.attrs.xmlns ? meter : cloneWithNamespace(meter);
  return parseMeterElement(withNs);
}

function cloneWithNamespace(meter: Element): Element {
  return xml('meter', { ...meter.attrs, xmlns: NS_METER }, ...meter.children);
}
