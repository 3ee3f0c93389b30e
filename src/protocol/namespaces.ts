// PROTOCOL "Names": every namespace we own carries its version.
export const NS_METER = 'urn:gridpresence:meter:1';
export const NS_DATA = 'urn:gridpresence:data:1';
export const CMD_NODE_PREFIX = 'urn:gridpresence:cmd:';

// Standard namespaces we speak.
export const NS_COMMANDS = 'http://jabber.org/protocol/commands'; // XEP-0050
export const NS_X_DATA = 'jabber:x:data'; // XEP-0004
export const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info'; // XEP-0030
export const NS_DISCO_ITEMS = 'http://jabber.org/protocol/disco#items'; // XEP-0030
export const NS_PING = 'urn:xmpp:ping'; // XEP-0199
export const NS_LAST_ACTIVITY = 'jabber:iq:last'; // XEP-0012
export const NS_DELAY = 'urn:xmpp:delay'; // XEP-0203
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'; // RFC 6120 §8.3
