#!/usr/bin/python3
"""An independent XMPP client (slixmpp, not xmpp.js) for the interop end-to-end test.

It logs in over STARTTLS, verifying the server certificate against the given CA and the
JID's domain, fetches the roster, sends its presence, then reads commands on stdin, one a line:

    subscribe            ask the meter's bare JID for a presence subscription
    query <tag>          PROTOCOL §3 status query to the meter's full JID (<bare>/agent)
    ping <tag>           XEP-0199 ping to the meter's full JID
    disco <tag>          XEP-0030 disco#info to the meter's full JID
    quit                 log out and exit (also on end of stdin)

Everything it sees is written to stdout as JSON lines, one object per event, with an
"event" key: tls, roster, online, presence, status, ping, disco, iq-error, tls-failed,
auth-failed, connection-failed, disconnected, bad-command, internal-error, exited. Logs go
to stderr.

Run it with the system interpreter (/usr/bin/python3), where Debian's python3-slixmpp lives.
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

NS_METER = 'urn:gridpresence:meter:1'
NS_CLIENT = 'jabber:client'
NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas'
IQ_TIMEOUT_S = 10


def emit(event, **fields):
    print(json.dumps({'event': event, **fields}), flush=True)


def meter_element(parent):
    """The <meter xmlns='urn:gridpresence:meter:1'/> child of `parent`, as a dict, or None."""
    el = parent.find('{%s}meter' % NS_METER)
    if el is None:
        return None
    reason = el.find('{%s}reason' % NS_METER)
    return {
        'attrs': dict(el.attrib),
        'reason': None if reason is None else {
            'code': reason.get('code'),
            'text': reason.text or '',
        },
    }


def stanza_error(iq):
    """type, condition and text of an IQ error reply, read from the raw XML."""
    error = iq.xml.find('{%s}error' % NS_CLIENT)
    if error is None:
        return {'type': None, 'condition': None, 'text': None}
    condition = None
    text = None
    for child in error:
        if not child.tag.startswith('{%s}' % NS_STANZAS):
            continue
        name = child.tag.split('}', 1)[1]
        if name == 'text':
            text = child.text
        elif condition is None:
            condition = name
    return {'type': error.get('type'), 'condition': condition, 'text': text}


class InteropClient(slixmpp.ClientXMPP):
    def __init__(self, jid, password, host, port, ca_file, meter, tls_server_name=None):
        super().__init__(jid, password)
        self.host = host
        self.port = port
        self.meter_bare = meter
        self.meter_full = meter + '/agent'
        # Verification stays on: slixmpp's default context has CERT_REQUIRED and
        # check_hostname; ca_certs makes it trust our private CA (load_verify_locations).
        self.ca_certs = ca_file
        # The name to check the certificate against (and to send as SNI) is slixmpp's
        # default_domain. connect(address=(host, port)) sets it to `host` when that is a name,
        # but leaves it '' for an IP literal; start_tls then passes server_hostname='', which
        # asyncio turns into None, and OpenSSL checks the chain but NO name at all (no error,
        # since the SSLObject path does not enforce "check_hostname requires server_hostname").
        # So set it to the JID's domain ourselves (RFC 6120 §13.7.2, RFC 6125: the name to
        # verify is the domain the client wanted, not the address it connected to).
        self.default_domain = tls_server_name or self.boundjid.host
        self.register_plugin('xep_0030')  # service discovery
        self.register_plugin('xep_0199')  # ping (answers, and sends on request)
        self.add_event_handler('session_start', self.on_session_start)
        self.add_event_handler('presence', self.on_presence)
        self.add_event_handler('ssl_invalid_chain', self.on_tls_failed)
        self.add_event_handler('failed_auth', self.on_failed_auth)
        self.add_event_handler('connection_failed', self.on_connection_failed)
        self.add_event_handler('disconnected', self.on_disconnected)
        self.stdin_task = None

    async def get_dns_records(self, domain, port=None):
        # slixmpp resolves default_domain (now the JID's domain) even after
        # connect(address=...), with port 5222, and that answer replaces the given address
        # when the name resolves (e.g. systemd-resolved answers *.localhost). We connect to the
        # explicit address only.
        return [(domain, self.host, self.port)]

    async def on_session_start(self, _event):
        self.emit_tls()
        roster = await self.get_roster()
        items = roster['roster']['items']
        emit('roster', items={str(j): dict(v) for j, v in items.items()})
        self.send_presence()
        emit('online', jid=str(self.boundjid))
        if self.stdin_task is None:
            self.stdin_task = asyncio.ensure_future(self.read_commands())
            self.stdin_task.add_done_callback(self.on_commands_done)

    def on_commands_done(self, task):
        if not task.cancelled() and task.exception() is not None:
            emit('internal-error', where='read_commands', error=repr(task.exception()))
        self.disconnect()

    def emit_tls(self):
        """How the session's TLS was verified, read back from the live ssl object."""
        ssl_object = self.transport.get_extra_info('ssl_object') if self.transport else None
        if ssl_object is None:
            emit('tls', encrypted=False)
            return
        peer = ssl_object.getpeercert() or {}
        emit(
            'tls',
            encrypted=True,
            version=ssl_object.version(),
            serverName=ssl_object.server_hostname,
            checkHostname=ssl_object.context.check_hostname,
            verifyRequired=ssl_object.context.verify_mode == ssl.CERT_REQUIRED,
            peerNames=[value for kind, value in peer.get('subjectAltName', ()) if kind == 'DNS'],
        )

    def on_presence(self, pres):
        if pres['from'].bare == self.boundjid.bare:
            return
        show = pres.xml.find('{%s}show' % NS_CLIENT)
        status = pres.xml.find('{%s}status' % NS_CLIENT)
        emit(
            'presence',
            **{
                'from': str(pres['from']),
                # the raw stanza type attribute, and slixmpp's own reading of the presence
                'type': pres.xml.get('type'),
                'show': None if show is None else show.text,
                'status': None if status is None else status.text,
                'slixmppType': pres['type'],
                'slixmppShow': pres['show'],
                'meter': meter_element(pres.xml),
            },
        )

    def on_tls_failed(self, error):
        emit('tls-failed', error=str(error))
        self.disconnect()

    def on_failed_auth(self, _event):
        emit('auth-failed')
        self.disconnect()

    def on_connection_failed(self, error):
        emit('connection-failed', error=str(error))

    def on_disconnected(self, reason):
        emit('disconnected', reason=str(reason))

    async def read_commands(self):
        reader = asyncio.StreamReader()
        loop = asyncio.get_event_loop()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                break
            words = line.decode().split()
            if not words:
                continue
            command = words[0]
            tag = words[1] if len(words) > 1 else command
            if command == 'quit':
                break
            handler = {
                'subscribe': self.cmd_subscribe,
                'query': self.cmd_query,
                'ping': self.cmd_ping,
                'disco': self.cmd_disco,
            }.get(command)
            if handler is None:
                emit('bad-command', line=line.decode().strip())
                continue
            asyncio.ensure_future(self.run_command(handler, command, tag))

    async def run_command(self, handler, command, tag):
        try:
            await handler(tag)
        except IqError as e:
            emit('iq-error', command=command, tag=tag, **stanza_error(e.iq))
        except IqTimeout:
            emit('iq-error', command=command, tag=tag, type='timeout', condition=None, text=None)
        except Exception as e:  # report, never die silently
            emit('internal-error', where=command, tag=tag, error=repr(e))

    async def cmd_subscribe(self, _tag):
        self.send_presence(pto=self.meter_bare, ptype='subscribe')

    async def cmd_query(self, tag):
        iq = self.make_iq_get(ito=self.meter_full)
        iq.append(ET.Element('{%s}status' % NS_METER))
        result = await iq.send(timeout=IQ_TIMEOUT_S)
        status = result.xml.find('{%s}status' % NS_METER)
        emit(
            'status',
            tag=tag,
            type=result['type'],
            **{'from': str(result['from'])},
            hasStatus=status is not None,
            meter=None if status is None else meter_element(status),
        )

    async def cmd_ping(self, tag):
        rtt = await self.plugin['xep_0199'].ping(jid=self.meter_full, timeout=IQ_TIMEOUT_S)
        emit('ping', tag=tag, ok=True, rttMs=round(rtt * 1000, 2))

    async def cmd_disco(self, tag):
        info = await self.plugin['xep_0030'].get_info(
            jid=self.meter_full, cached=False, timeout=IQ_TIMEOUT_S
        )
        disco = info['disco_info']
        emit(
            'disco',
            tag=tag,
            type=info['type'],
            features=sorted(disco['features']),
            identities=[list(i) for i in disco['identities']],
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n', 1)[0])
    parser.add_argument('--jid', required=True)
    parser.add_argument('--password', required=True)
    parser.add_argument('--host', required=True)
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--ca-file', required=True)
    parser.add_argument('--meter', required=True, help="the meter's bare JID")
    parser.add_argument(
        '--tls-server-name',
        help="the name to verify the server certificate against (default: the JID's domain)",
    )
    parser.add_argument('--debug', action='store_true')
    args = parser.parse_args()
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.DEBUG if args.debug else logging.WARNING,
        format='%(levelname)s %(name)s: %(message)s',
    )

    client = InteropClient(
        args.jid,
        args.password,
        args.host,
        args.port,
        args.ca_file,
        args.meter,
        tls_server_name=args.tls_server_name,
    )
    # STARTTLS on the ordinary c2s port, required (force_starttls), never direct TLS here.
    client.connect(address=(args.host, args.port), use_ssl=False, force_starttls=True)
    client.process(forever=False)
    emit('exited')


if __name__ == '__main__':
    main()
