/**
 * The audio fallback (OpenTok's "audio-only fallback" of routed sessions) as pure decisions: loss
 * samples of one subscriber's path go in, the next state and the events to send come out. The
 * engine (`engine.ts`) feeds it from the subscriber's RTCP and carries out the events (stop or
 * resume the video leg, tell the subscriber); this module holds no sockets, tracks or timers, and
 * reads no clock: every time is passed in.
 */
import type { AudioFallbackOptions, SubscriberMediaEvent } from '../types.js';
import type { ReportBlock } from './rtp.js';

/** `ok`: video flows; `warning`: video flows but the subscriber was warned; `disabled`: only audio flows. */
export type FallbackPhase = 'ok' | 'warning' | 'disabled';

/** The stream a loss sample was measured on. */
export type LossKind = 'audio' | 'video';

/** The events the fallback sends to its subscriber. */
export type FallbackEvent = Extract<SubscriberMediaEvent, { type: 'videoDisableWarning' | 'videoDisableWarningLifted' | 'videoDisabled' | 'videoEnabled' }>;

/**
 * The fallback state of one subscriber. Times are epoch milliseconds; `0` in `highSince`,
 * `goodSince` or `disabledAt` means "not set" (the engine passes `Date.now()`, never 0).
 */
export interface FallbackState {
  readonly phase: FallbackPhase;
  /** Smoothed video loss (0..1); compared with `warnLoss` and `disableLoss`. */
  readonly lossEwma: number;
  /** Since when `lossEwma` has been at or above `disableLoss`. */
  readonly highSince: number;
  /** While disabled: since when audio loss has been at or below `recoverLoss`. */
  readonly goodSince: number;
  /** When video was last stopped. */
  readonly disabledAt: number;
}

/** The state of a new subscriber: video flows, no loss seen. */
export const INITIAL_FALLBACK: FallbackState = Object.freeze({ phase: 'ok', lossEwma: 0, highSince: 0, goodSince: 0, disabledAt: 0 });

/** One loss measurement of a subscriber's path. */
export interface LossSample {
  /** Lost fraction, 0..1. */
  fraction: number;
  /** Which stream it was measured on. */
  kind: LossKind;
  /** When it was measured (epoch ms). */
  now: number;
  /** The subscriber has a video leg and wants video (`subscribeToVideo`): only then does the fallback act. */
  videoWanted: boolean;
}

/** The outcome of one sample: the next state and the events to carry out, in order. */
export interface FallbackStep {
  state: FallbackState;
  events: FallbackEvent[];
}

/** Weights of the previous value and of the new sample in `lossEwma`. */
const EWMA_OLD = 0.3;
const EWMA_NEW = 0.7;

/**
 * One step of the fallback state machine. Samples count from the video reports while video flows
 * and from the audio reports while it is off (a receiver reports nothing useful on a stream that
 * is not sent). With the fallback turned off, or video not wanted, nothing changes.
 *
 * - `ok`/`warning`, video sample: `lossEwma` ≥ `warnLoss` warns (`videoDisableWarning`); staying
 *   ≥ `disableLoss` for `disableAfterMs` while warned stops video (`videoDisabled`); a warned path
 *   whose `lossEwma` falls below half of `warnLoss` is lifted (`videoDisableWarningLifted`).
 * - `disabled`, audio sample: loss ≤ `recoverLoss` for `recoverAfterMs` (and at least
 *   `recoverAfterMs` after video stopped) brings video back (`videoEnabled`) with `lossEwma` reset.
 *
 * @example
 * let fb = INITIAL_FALLBACK;
 * const step = stepFallback(fb, { fraction: 0.3, kind: 'video', now: Date.now(), videoWanted: true }, cfg);
 * fb = step.state; // step.events: [{ type: 'videoDisableWarning' }]
 */
export function stepFallback(state: FallbackState, sample: LossSample, cfg: AudioFallbackOptions): FallbackStep {
  const { fraction, kind, now } = sample;
  if (!cfg.enabled || !sample.videoWanted) return { state, events: [] };
  if (state.phase === 'disabled') {
    if (kind !== 'audio') return { state, events: [] };
    if (fraction > cfg.recoverLoss) return { state: { ...state, goodSince: 0 }, events: [] };
    const goodSince = state.goodSince === 0 ? now : state.goodSince;
    if (now - goodSince >= cfg.recoverAfterMs && now - state.disabledAt >= cfg.recoverAfterMs) {
      return { state: { ...state, phase: 'ok', lossEwma: 0, highSince: 0, goodSince }, events: [{ type: 'videoEnabled', reason: 'quality' }] };
    }
    return { state: { ...state, goodSince }, events: [] };
  }
  if (kind !== 'video') return { state, events: [] };
  const events: FallbackEvent[] = [];
  let phase: FallbackPhase = state.phase;
  let { highSince, goodSince, disabledAt } = state;
  const lossEwma = state.lossEwma * EWMA_OLD + fraction * EWMA_NEW;
  if (lossEwma >= cfg.disableLoss) {
    if (highSince === 0) highSince = now;
  } else highSince = 0;
  if (phase === 'ok' && lossEwma >= cfg.warnLoss) {
    phase = 'warning';
    events.push({ type: 'videoDisableWarning' });
  }
  if (phase === 'warning') {
    if (highSince !== 0 && now - highSince >= cfg.disableAfterMs) {
      phase = 'disabled';
      disabledAt = now;
      goodSince = 0;
      events.push({ type: 'videoDisabled', reason: 'quality' });
    } else if (lossEwma < cfg.warnLoss / 2) {
      phase = 'ok';
      events.push({ type: 'videoDisableWarningLifted' });
    }
  }
  return { state: { phase, lossEwma, highSince, goodSince, disabledAt }, events };
}

/** The cumulative counters of one stream's receiver reports where a measuring window began. */
export interface LossWindow {
  /** When the window began (epoch ms). */
  readonly at: number;
  /** `cumulativeLost` then. */
  readonly lost: number;
  /** `highestSeq` (extended) then. */
  readonly ext: number;
}

/** The outcome of one report block: the window to keep and, when a window closed, its loss. */
export interface LossMeasure {
  window: LossWindow;
  /** Lost fraction (0..1) of the window that closed; absent while the window is open or had no packets. */
  fraction?: number;
}

/** Shortest measuring window. */
const LOSS_WINDOW_MS = 1000;

/**
 * Loss of a stream from its receiver report blocks, over windows of at least one second.
 * Browsers attach receiver reports to every NACK, so report blocks arrive many times a second and
 * the per-report `fraction lost` is noise; the cumulative counters are used instead. A first
 * report, or one whose `highestSeq` went back (a new numbering), starts a new window.
 */
export function measureLoss(window: LossWindow | undefined, report: Pick<ReportBlock, 'highestSeq' | 'cumulativeLost'>, now: number): LossMeasure {
  const next: LossWindow = { at: now, lost: report.cumulativeLost, ext: report.highestSeq };
  if (!window || report.highestSeq < window.ext) return { window: next };
  if (now - window.at < LOSS_WINDOW_MS) return { window };
  const expected = report.highestSeq - window.ext;
  if (expected <= 0) return { window: next };
  const lost = report.cumulativeLost - window.lost;
  return { window: next, fraction: Math.max(0, Math.min(1, lost / expected)) };
}

/**
 * A REMB bandwidth estimate as a video loss sample: 1 below `minBitrateBps`, else 0; absent when
 * `minBitrateBps` is 0 (the REMB rule is off).
 */
export function rembLoss(bitrateBps: number, cfg: Pick<AudioFallbackOptions, 'minBitrateBps'>): number | undefined {
  if (!(cfg.minBitrateBps > 0)) return undefined;
  return bitrateBps < cfg.minBitrateBps ? 1 : 0;
}
