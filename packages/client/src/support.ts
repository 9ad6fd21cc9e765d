/**
 * Whether this browser can run a `@vonage/media-processor` connector (OpenTok.js
 * `OT.hasMediaProcessorSupport`): Insertable Streams for raw media (`MediaStreamTrackProcessor`
 * and `MediaStreamTrackGenerator`, or `VideoTrackGenerator` for video).
 */
export function hasMediaProcessorSupport(mediaType: 'audio' | 'video' | 'both' = 'both'): boolean {
  const g = globalThis as Record<string, unknown>;
  const processor = typeof g['MediaStreamTrackProcessor'] === 'function';
  const audio = processor && typeof g['MediaStreamTrackGenerator'] === 'function';
  const video = processor && (typeof g['MediaStreamTrackGenerator'] === 'function' || typeof g['VideoTrackGenerator'] === 'function');
  return mediaType === 'audio' ? audio : mediaType === 'video' ? video : audio && video;
}
