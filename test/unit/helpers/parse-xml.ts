import { type Element, Parser } from '@xmpp/xml';

/** Reads one XML document as a peer would receive it (namespaces inherited, not repeated). */
export function parseXml(text: string): Element {
  const parser = new Parser();
  let root: Element | undefined;
  let failure: Error | undefined;
  parser.on('start', (element: Element) => {
    root = element;
  });
  parser.on('element', (element: Element) => root?.append(element));
  parser.on('error', (error: Error) => {
    failure = error;
  });
  parser.write(text);
  parser.end('');
  if (failure) throw failure;
  if (!root) throw new Error('no element');
  return root;
}
