import { basename } from 'node:path';

// V8 CPU profiles (node --cpu-prof, .cpuprofile JSON) summed up by owner and by function, for
// scripts/profile-summary.ts.

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Who a frame belongs to: an npm package, our code, Node itself, or V8's pseudo-frames. */
export function ownerOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (!url) {
    if (functionName === '(idle)') return '(idle)';
    if (functionName === '(garbage collector)') return '(gc)';
    if (functionName === '(program)') return '(program)';
    return '(native)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith('node:')) return 'node:internals';
  const ours = /\/dist\/(.+?)\/[^/]+\.js$/.exec(url);
  return ours?.[1] ? `ours: ${ours[1]}` : 'other';
}

export interface ProfileSummary {
  seconds: number;
  /** Milliseconds of self time by owner, largest first. */
  byOwner: [string, number][];
  /** Milliseconds of self time by function, largest first. */
  byFunction: [string, number][];
}

export function summarizeProfile(profile: CpuProfile): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const owners = new Map<string, number>();
  const functions = new Map<string, number>();
  const add = (map: Map<string, number>, key: string, ms: number) =>
    map.set(key, (map.get(key) ?? 0) + ms);
  // Each sample's time is the delta to the next one (V8's own convention).
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const frame = nodes.get(id)?.callFrame;
    if (!frame) return;
    add(owners, ownerOf(frame), ms);
    const where = frame.url ? `${basename(frame.url)}:${frame.lineNumber + 1}` : '';
    add(functions, `${frame.functionName || '(anonymous)'} ${where}`.trim(), ms);
  });
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  return {
    seconds: (profile.endTime - profile.startTime) / 1e6,
    byOwner: sorted(owners),
    byFunction: sorted(functions),
  };
}
