import { formatNumber } from './dom.js';
import { type MeterState, STATE_LABELS, STATES, stateColour } from './states.js';
import uPlot from './vendor/uplot.js';

// The fleet's state-over-time chart (uPlot): one line per state in the state's colour, each
// with its own dash pattern and a labelled legend, so the lines differ by more than colour.

export interface FleetTimeline {
  at: string[];
  counts: Record<MeterState, number[]>;
}

const DASH: Record<MeterState, number[]> = {
  available: [],
  active: [8, 4],
  restricted: [2, 3],
  unavailable: [10, 3, 2, 3],
  decoupled: [4, 4],
};

export interface StateChart {
  set(timeline: FleetTimeline): void;
  /** Moves the newest point to now with these counts (live changes between fetches). */
  setNow(counts: Record<MeterState, number>): void;
  destroy(): void;
}

export function createStateChart(container: HTMLElement): StateChart {
  const css = getComputedStyle(document.documentElement);
  const ink = css.getPropertyValue('--fg-muted').trim() || '#555';
  const grid = css.getPropertyValue('--grid').trim() || '#ddd';
  const axis = { stroke: ink, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  let data: uPlot.AlignedData = [[], ...STATES.map(() => [])];
  const stepped = uPlot.paths.stepped?.({ align: 1 });
  const plot = new uPlot(
    {
      width: Math.max(280, container.clientWidth),
      height: 260,
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.05)] } },
      series: [
        { label: 'Time' },
        ...STATES.map((state) => ({
          label: STATE_LABELS[state],
          stroke: stateColour(state),
          width: 2,
          dash: DASH[state],
          // Counts hold from one instant to the next: steps, not slopes.
          paths: stepped,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)),
        })),
      ],
      axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map((t) => formatNumber(t)) }],
      cursor: { drag: { x: false, y: false } },
    },
    data,
    container,
  );
  const resize = new ResizeObserver(() => {
    plot.setSize({ width: Math.max(280, container.clientWidth), height: 260 });
  });
  resize.observe(container);

  return {
    set(timeline) {
      data = [
        timeline.at.map((iso) => Date.parse(iso) / 1000),
        ...STATES.map((state) => timeline.counts[state]),
      ] as uPlot.AlignedData;
      plot.setData(data);
    },
    setNow(counts) {
      const xs = data[0] as number[];
      if (xs.length === 0) return;
      xs[xs.length - 1] = Date.now() / 1000;
      STATES.forEach((state, i) => {
        const ys = data[i + 1] as number[];
        ys[ys.length - 1] = counts[state];
      });
      plot.setData(data);
    },
    destroy() {
      resize.disconnect();
      plot.destroy();
    },
  };
}
