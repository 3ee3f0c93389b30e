// @xmpp/component 0.13.1 ships no types and there is no @types package (XMPP-NOTES): the part
// we use, typed by hand.
declare module '@xmpp/component' {
  import type { Element } from '@xmpp/xml';

  export interface IqCaller {
    request(stanza: Element, timeoutMs?: number): Promise<Element>;
  }
  export interface IqCallee {
    get(
      ns: string,
      name: string,
      handler: (ctx: { stanza: Element; element: Element }) => unknown,
    ): void;
    set(
      ns: string,
      name: string,
      handler: (ctx: { stanza: Element; element: Element }) => unknown,
    ): void;
  }
  export interface Component {
    status: string;
    jid: { toString(): string } | null;
    socket: import('node:net').Socket | null;
    reconnect: { reconnect(): Promise<unknown>; stop(): void };
    iqCaller: IqCaller;
    iqCallee: IqCallee;
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
    sendMany(elements: Element[]): Promise<void>;
    on(event: 'stanza', listener: (stanza: Element) => void): this;
    on(event: string, listener: (...args: never[]) => void): this;
    removeListener(event: string, listener: (...args: never[]) => void): this;
  }
  export function component(options: {
    service: string;
    domain: string;
    password: string;
  }): Component;
}
