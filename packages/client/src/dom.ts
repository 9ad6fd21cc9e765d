/** Where and how to put a publisher/subscriber element (OpenTok.js `insertMode`, `width`, `height`). */
export interface ElementOptions {
  insertMode?: 'replace' | 'after' | 'before' | 'append';
  width?: number | string;
  height?: number | string;
  insertDefaultUI?: boolean;
  /** `'cover'` (default: fill the element, cropping) or `'contain'` (whole picture, letterboxed). */
  fitMode?: 'cover' | 'contain';
}

const size = (v: number | string | undefined, d: string) => (v === undefined ? d : typeof v === 'number' ? `${v}px` : v);

/**
 * Create the widget element and place it relative to `target` (an element, an element ID, or
 * nothing: appended to `document.body`).
 */
export function placeElement(target: HTMLElement | string | null | undefined, className: string, options: ElementOptions): { root: HTMLElement; video: HTMLVideoElement } {
  const root = document.createElement('div');
  root.className = `OT_root ${className}`;
  root.style.width = size(options.width, '264px');
  root.style.height = size(options.height, '198px');
  root.style.position = 'relative';
  root.style.overflow = 'hidden';
  const video = document.createElement('video');
  video.autoplay = true;
  video.playsInline = true;
  video.style.width = '100%';
  video.style.height = '100%';
  video.style.objectFit = options.fitMode === 'contain' ? 'contain' : 'cover';
  // OpenTok.js's widget layout (root > .OT_widget-container > video): apps put their overlays,
  // e.g. the Basic-Captions sample's caption box, into the widget container.
  const container = document.createElement('div');
  container.className = 'OT_widget-container';
  container.style.position = 'absolute';
  container.style.inset = '0';
  container.appendChild(video);
  root.appendChild(container);
  if (options.insertDefaultUI === false) return { root, video };
  const el = typeof target === 'string' ? document.getElementById(target) : target;
  if (!el) {
    document.body.appendChild(root);
    return { root, video };
  }
  switch (options.insertMode ?? 'replace') {
    case 'append':
      el.appendChild(root);
      break;
    case 'after':
      el.after(root);
      break;
    case 'before':
      el.before(root);
      break;
    default:
      // OpenTok replaces the target element, keeping its id on the new one.
      if (el.id) root.id = el.id;
      el.replaceWith(root);
  }
  return { root, video };
}

/** Play a media element; when autoplay with sound is refused, play muted rather than not at all. */
export function playElement(video: HTMLVideoElement): void {
  video.play().catch(() => {
    if (!video.muted) {
      video.muted = true;
      video.play().catch(() => undefined);
    }
  });
}

/** The element's current frame as base64 PNG without the `data:` prefix (OpenTok.js `getImgData`). */
export function imageData(video: HTMLVideoElement | undefined): string | null {
  if (!video || !video.videoWidth || !video.videoHeight) return null;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth;
  canvas.height = video.videoHeight;
  canvas.getContext('2d')?.drawImage(video, 0, 0);
  return canvas.toDataURL('image/png').replace(/^data:image\/png;base64,/, '');
}

/** OpenTok.js's dual style: a Promise, and the optional Node-style callback it also settles. */
export function settle<T, E = unknown>(p: Promise<T>, callback?: (err?: E, value?: T) => void): void {
  if (callback) p.then((v) => callback(undefined, v), (err: E) => callback(err));
  else p.catch(() => undefined);
}
