import { describe, expect, it } from 'vitest';
import { validateAudioFilter } from '../src/filters/audio-filter.js';
import { validateVideoFilter } from '../src/filters/video-filter.js';

const failure = (f: () => unknown): string => {
  try {
    f();
    return 'accepted';
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
};

describe('video and audio filter arguments (OpenTok.js 2.35 rules)', () => {
  it('accepts OpenTok.js filters and returns a copy with only their fields', () => {
    const input = { type: 'backgroundBlur', blurStrength: 'low', extra: 1 };
    const out = validateVideoFilter(input);
    expect(out).toEqual({ type: 'backgroundBlur', blurStrength: 'low' });
    expect(out).not.toBe(input);
    expect(validateVideoFilter({ type: 'backgroundBlur' })).toEqual({ type: 'backgroundBlur' });
    // OpenTok.js treats a falsy blurStrength as absent.
    expect(validateVideoFilter({ type: 'backgroundBlur', blurStrength: '' })).toEqual({ type: 'backgroundBlur' });
    for (const url of ['https://app.example/bg.png', '/img/office.JPG', 'a.jpeg', 'b.bmp', 'c.gif', 'data:image/png;base64,iVBORw0KGgo=', 'data:image/jpeg;base64,/9j/']) {
      expect(validateVideoFilter({ type: 'backgroundReplacement', backgroundImgUrl: url }), url).toEqual({ type: 'backgroundReplacement', backgroundImgUrl: url });
    }
    expect(validateAudioFilter({ type: 'advancedNoiseSuppression' })).toEqual({ type: 'advancedNoiseSuppression' });
  });

  it('rejects anything else with OT_INVALID_PARAMETER naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [undefined, /videoFilter must be an object/],
      [null, /videoFilter must be an object/],
      ['backgroundBlur', /videoFilter must be an object/],
      [{}, /type must be 'backgroundBlur' or 'backgroundReplacement'/],
      [{ type: 'BackgroundBlur' }, /type must be/],
      [{ type: 'backgroundBlur', blurStrength: 'medium' }, /blurStrength must be 'low' or 'high'/],
      [{ type: 'backgroundBlur', blurStrength: 10 }, /blurStrength/],
      [{ type: 'backgroundReplacement' }, /backgroundImgUrl/],
      [{ type: 'backgroundReplacement', backgroundImgUrl: 'https://app.example/bg.webp' }, /backgroundImgUrl/],
      [{ type: 'backgroundReplacement', backgroundImgUrl: 'data:image/svg+xml;base64,PHN2Zz4=' }, /backgroundImgUrl/],
      [{ type: 'backgroundReplacement', backgroundImgUrl: 42 }, /backgroundImgUrl/],
    ];
    for (const [arg, why] of cases) {
      const msg = failure(() => validateVideoFilter(arg));
      expect(msg, JSON.stringify(arg)).toMatch(/^OT_INVALID_PARAMETER: Video filter has invalid configuration: /);
      expect(msg, JSON.stringify(arg)).toMatch(why);
    }
    for (const arg of [undefined, {}, { type: 'noiseSuppression' }, 'advancedNoiseSuppression']) {
      expect(failure(() => validateAudioFilter(arg)), JSON.stringify(arg)).toMatch(/^OT_INVALID_PARAMETER: Audio filter has invalid configuration: type must be 'advancedNoiseSuppression'/);
    }
  });
});
