import { describe, expect, it } from 'vitest';
import type { AudioFallbackOptions } from '../types.js';
import { INITIAL_FALLBACK, measureLoss, rembLoss, stepFallback, type FallbackEvent, type FallbackState, type LossMeasure, type LossSample, type LossWindow } from './audio-fallback.js';

// The router's defaults (worker-pool.ts).
const CFG: AudioFallbackOptions = { enabled: true, warnLoss: 0.05, disableLoss: 0.12, disableAfterMs: 2000, recoverLoss: 0.02, recoverAfterMs: 3000, minBitrateBps: 0 };
const T = 1_000_000;

const state = (s: Partial<FallbackState>): FallbackState => ({ ...INITIAL_FALLBACK, ...s });
const sample = (kind: LossSample['kind'], fraction: number, now = T, videoWanted = true): LossSample => ({ kind, fraction, now, videoWanted });

interface Case {
  name: string;
  from: FallbackState;
  sample: LossSample;
  cfg?: Partial<AudioFallbackOptions>;
  to: FallbackState;
  events: FallbackEvent[];
}

const WARNED = state({ phase: 'warning', lossEwma: 0.07 });
const DISABLED = state({ phase: 'disabled', lossEwma: 0.2, highSince: T - 5000, disabledAt: T - 4000 });

const cases: Case[] = [
  // gates: nothing changes
  { name: 'fallback turned off', from: INITIAL_FALLBACK, sample: sample('video', 0.5), cfg: { enabled: false }, to: INITIAL_FALLBACK, events: [] },
  { name: 'video not wanted (or no video leg)', from: INITIAL_FALLBACK, sample: sample('video', 0.5, T, false), to: INITIAL_FALLBACK, events: [] },
  { name: 'video not wanted while disabled', from: DISABLED, sample: sample('audio', 0, T, false), to: DISABLED, events: [] },
  // ok / warning: only video samples count
  { name: 'ok: an audio sample is ignored', from: INITIAL_FALLBACK, sample: sample('audio', 0.5), to: INITIAL_FALLBACK, events: [] },
  { name: 'ok: low video loss only moves the average', from: INITIAL_FALLBACK, sample: sample('video', 0.02), to: state({ lossEwma: 0.014 }), events: [] },
  { name: 'ok: average at warnLoss warns', from: INITIAL_FALLBACK, sample: sample('video', 0.1), to: state({ phase: 'warning', lossEwma: 0.07 }), events: [{ type: 'videoDisableWarning' }] },
  {
    name: 'ok: average at disableLoss warns and starts the high period',
    from: INITIAL_FALLBACK,
    sample: sample('video', 0.3),
    to: state({ phase: 'warning', lossEwma: 0.21, highSince: T }),
    events: [{ type: 'videoDisableWarning' }],
  },
  {
    name: 'ok: high long enough (disableLoss below warnLoss) warns and stops video in one step',
    from: state({ lossEwma: 0.03, highSince: T - 2500 }),
    sample: sample('video', 0.1),
    cfg: { disableLoss: 0.01, recoverLoss: 0.01 },
    to: state({ phase: 'disabled', lossEwma: 0.079, highSince: T - 2500, disabledAt: T }),
    events: [{ type: 'videoDisableWarning' }, { type: 'videoDisabled', reason: 'quality' }],
  },
  { name: 'warning: an audio sample is ignored', from: WARNED, sample: sample('audio', 0), to: WARNED, events: [] },
  {
    name: 'warning: high, not yet for disableAfterMs',
    from: state({ phase: 'warning', lossEwma: 0.21, highSince: T - 1999 }),
    sample: sample('video', 0.3),
    to: state({ phase: 'warning', lossEwma: 0.273, highSince: T - 1999 }),
    events: [],
  },
  {
    name: 'warning: high for disableAfterMs stops video',
    from: state({ phase: 'warning', lossEwma: 0.21, highSince: T - 2000, goodSince: T - 9000 }),
    sample: sample('video', 0.3),
    to: state({ phase: 'disabled', lossEwma: 0.273, highSince: T - 2000, goodSince: 0, disabledAt: T }),
    events: [{ type: 'videoDisabled', reason: 'quality' }],
  },
  {
    name: 'warning: below disableLoss ends the high period, warning stays',
    from: state({ phase: 'warning', lossEwma: 0.07, highSince: T - 1500 }),
    sample: sample('video', 0.04),
    to: state({ phase: 'warning', lossEwma: 0.049, highSince: 0 }),
    events: [],
  },
  { name: 'warning: below half of warnLoss lifts the warning', from: WARNED, sample: sample('video', 0), to: state({ phase: 'ok', lossEwma: 0.021 }), events: [{ type: 'videoDisableWarningLifted' }] },
  // disabled: only audio samples count
  { name: 'disabled: a video sample is ignored', from: DISABLED, sample: sample('video', 0), to: DISABLED, events: [] },
  { name: 'disabled: audio loss above recoverLoss restarts the good period', from: { ...DISABLED, goodSince: T - 2000 }, sample: sample('audio', 0.03), to: DISABLED, events: [] },
  { name: 'disabled: first good audio sample starts the good period', from: DISABLED, sample: sample('audio', 0.02), to: { ...DISABLED, goodSince: T }, events: [] },
  { name: 'disabled: good, not yet for recoverAfterMs', from: { ...DISABLED, goodSince: T - 2999 }, sample: sample('audio', 0), to: { ...DISABLED, goodSince: T - 2999 }, events: [] },
  {
    name: 'disabled: good for recoverAfterMs but video stopped too recently',
    from: { ...DISABLED, goodSince: T - 3000, disabledAt: T - 2999 },
    sample: sample('audio', 0),
    to: { ...DISABLED, goodSince: T - 3000, disabledAt: T - 2999 },
    events: [],
  },
  {
    name: 'disabled: good for recoverAfterMs brings video back with the average reset',
    from: { ...DISABLED, goodSince: T - 3000 },
    sample: sample('audio', 0.01),
    to: state({ phase: 'ok', lossEwma: 0, highSince: 0, goodSince: T - 3000, disabledAt: DISABLED.disabledAt }),
    events: [{ type: 'videoEnabled', reason: 'quality' }],
  },
];

describe('stepFallback', () => {
  it.each(cases)('$name', (c) => {
    const from = Object.freeze({ ...c.from });
    const step = stepFallback(from, c.sample, { ...CFG, ...c.cfg });
    expect(step.events).toEqual(c.events);
    expect(step.state).toEqual({ ...c.to, lossEwma: expect.closeTo(c.to.lossEwma, 10) });
    expect(from).toEqual(c.from); // the input state is never changed
  });

  it('runs the documented sequence: warning, video off under sustained loss, back after good audio', () => {
    let s = INITIAL_FALLBACK;
    const types: string[] = [];
    const feed = (kind: LossSample['kind'], fraction: number, now: number) => {
      const step = stepFallback(s, sample(kind, fraction, now), CFG);
      s = step.state;
      types.push(...step.events.map((e) => `${now - T}:${e.type}`));
    };
    for (let t = 0; t <= 3000; t += 1000) feed('video', 0.3, T + t); // one window a second
    feed('audio', 0.01, T + 5000);
    feed('audio', 0.01, T + 7000);
    feed('audio', 0.01, T + 8000);
    expect(types).toEqual(['0:videoDisableWarning', '2000:videoDisabled', '8000:videoEnabled']);
    expect(s).toEqual({ phase: 'ok', lossEwma: 0, highSince: 0, goodSince: T + 5000, disabledAt: T + 2000 });
  });
});

describe('measureLoss', () => {
  const W: LossWindow = Object.freeze({ at: T, lost: 10, ext: 5000 });
  const cases: { name: string; window: LossWindow | undefined; report: { highestSeq: number; cumulativeLost: number }; now: number; out: LossMeasure; keepsWindow?: true }[] = [
    { name: 'first report opens a window', window: undefined, report: { highestSeq: 5000, cumulativeLost: 10 }, now: T, out: { window: W } },
    { name: 'highestSeq went back: a new window', window: W, report: { highestSeq: 4999, cumulativeLost: 50 }, now: T + 5000, out: { window: { at: T + 5000, lost: 50, ext: 4999 } } },
    { name: 'window younger than 1 s stays open', window: W, report: { highestSeq: 5100, cumulativeLost: 20 }, now: T + 999, out: { window: W }, keepsWindow: true },
    { name: 'window of 1 s closes with its loss', window: W, report: { highestSeq: 5100, cumulativeLost: 20 }, now: T + 1000, out: { window: { at: T + 1000, lost: 20, ext: 5100 }, fraction: 0.1 } },
    { name: 'no packets in the window: no sample', window: W, report: { highestSeq: 5000, cumulativeLost: 10 }, now: T + 3000, out: { window: { at: T + 3000, lost: 10, ext: 5000 } } },
    { name: 'cumulative loss went down (duplicates): 0', window: W, report: { highestSeq: 5050, cumulativeLost: 5 }, now: T + 1500, out: { window: { at: T + 1500, lost: 5, ext: 5050 }, fraction: 0 } },
    { name: 'more lost than expected: capped at 1', window: W, report: { highestSeq: 5010, cumulativeLost: 40 }, now: T + 1500, out: { window: { at: T + 1500, lost: 40, ext: 5010 }, fraction: 1 } },
  ];
  it.each(cases)('$name', (c) => {
    const m = measureLoss(c.window, c.report, c.now);
    expect(m).toEqual(c.out);
    if (c.keepsWindow) expect(m.window).toBe(c.window);
  });
});

describe('rembLoss', () => {
  it.each([
    { name: 'rule off (minBitrateBps 0)', bitrate: 10, min: 0, out: undefined },
    { name: 'estimate below the minimum counts as full loss', bitrate: 149_999, min: 150_000, out: 1 },
    { name: 'estimate at the minimum is no loss', bitrate: 150_000, min: 150_000, out: 0 },
    { name: 'estimate above the minimum is no loss', bitrate: 2_000_000, min: 150_000, out: 0 },
  ])('$name', (c) => {
    expect(rembLoss(c.bitrate, { minBitrateBps: c.min })).toBe(c.out);
  });
});
