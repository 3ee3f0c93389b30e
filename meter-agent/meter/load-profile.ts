// Shapes of a day, before noise: how much of its peak demand a customer draws at each hour, and
// how much of its peak a rooftop PV system delivers. Pure functions of the local hour.

export const LOAD_PROFILES = ['residential', 'commercial'] as const;
export type LoadProfileName = (typeof LOAD_PROFILES)[number];

const HOUR_MS = 3_600_000;

/** Local hour of day in [0, 24); the offset is in minutes east of UTC. */
export function hourOfDay(at: Date, utcOffsetMinutes: number): number {
  const hours = (at.getTime() + utcOffsetMinutes * 60_000) / HOUR_MS;
  return ((hours % 24) + 24) % 24;
}

/** A bump centred on `centre` hours, measured round the clock so 23:00 is near 01:00. */
function bump(hour: number, centre: number, widthH: number): number {
  const raw = Math.abs(hour - centre);
  const distance = Math.min(raw, 24 - raw);
  return Math.exp(-0.5 * (distance / widthH) ** 2);
}

function logistic(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/**
 * Fraction (0–1) of the peak demand at a local hour. Residential: low at night, a morning peak
 * around 07:30, a higher evening peak around 19:00. Commercial: a plateau over business hours.
 */
export function loadFactor(profile: LoadProfileName, hour: number): number {
  if (profile === 'commercial') {
    const open = logistic((hour - 7.5) * 2) * logistic((18.5 - hour) * 2);
    return Math.min(1, 0.2 + 0.75 * open + 0.05 * bump(hour, 12.5, 2));
  }
  const value =
    0.15 + 0.45 * bump(hour, 7.5, 1.2) + 0.15 * bump(hour, 13, 3) + 0.8 * bump(hour, 19, 1.8);
  return Math.min(1, value);
}

/** Fraction (0–1) of PV peak: zero at night, a sine-shaped midday hump from 06:00 to 18:00. */
export function pvFactor(hour: number): number {
  if (hour <= 6 || hour >= 18) return 0;
  return Math.sin((Math.PI * (hour - 6)) / 12) ** 1.5;
}
