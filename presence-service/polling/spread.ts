// Where in a schedule's spread window each meter is polled. A hash of the meter id, not a random
// draw: the same meter gets the same phase every period (its polls stay evenly spaced, and a log
// reader can predict when it will be asked), and a fleet of ids spreads evenly over the window.

/** FNV-1a, 32 bits (http://www.isthe.com/chongo/tech/comp/fnv/): tiny, fast, well mixed. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The meter's offset in [0, spreadMs) whole milliseconds; 0 when there is no spread. */
export function spreadOffsetMs(meterId: string, spreadMs: number): number {
  const window = Math.floor(spreadMs);
  return window < 1 ? 0 : fnv1a32(meterId) % window;
}
