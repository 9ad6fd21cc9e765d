/**
 * The built-in offline recogniser: Debian's `pocketsphinx` (CMU PocketSphinx 5prealpha, the
 * `pocketsphinx_continuous` program) with `pocketsphinx-en-us` (acoustic model, dictionary and
 * trigram language model), installed by scripts/setup.mjs; no model is downloaded at run time.
 *
 * One process per stream reads raw 16 kHz PCM on stdin; its voice-activity detector cuts the
 * audio into utterances and prints each one's text on stdout when it ends, so captions are
 * final only (no partials) and come after a pause of about half a second.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Recognition, RecognitionOptions, SpeechRecognizer } from './recognizer.js';

export interface PocketsphinxOptions {
  /** Default `pocketsphinx_continuous` on the PATH. */
  command?: string;
  /** Model directory of `pocketsphinx-en-us`. Default `/usr/share/pocketsphinx/model/en-us`. */
  modelDir?: string;
}

/** Whether the engine and its en-US model are installed here. */
export function pocketsphinxAvailable(options: PocketsphinxOptions = {}): boolean {
  const dir = options.modelDir ?? '/usr/share/pocketsphinx/model/en-us';
  return existsSync(`${dir}/en-us.lm.bin`) && existsSync(`${dir}/cmudict-en-us.dict`);
}

export function createPocketsphinxRecognizer(options: PocketsphinxOptions = {}): SpeechRecognizer {
  const command = options.command ?? 'pocketsphinx_continuous';
  const dir = options.modelDir ?? '/usr/share/pocketsphinx/model/en-us';
  return {
    name: 'pocketsphinx',
    sampleRate: 16000,
    languages: ['en-US'],
    start(o: RecognitionOptions): Recognition {
      if (o.languageCode !== 'en-US') throw new RangeError(`pocketsphinx transcribes en-US only (asked: ${o.languageCode})`);
      // Node hands a child a socket as stdin, which pocketsphinx cannot open as `/dev/stdin`:
      // `cat` turns it into a pipe. The two run in their own process group, killed as one.
      const args = ['-infile', '/dev/stdin', '-samprate', '16000', '-hmm', `${dir}/en-us`, '-lm', `${dir}/en-us.lm.bin`, '-dict', `${dir}/cmudict-en-us.dict`, '-logfn', '/dev/null'];
      const child = spawn('sh', ['-c', 'cat | "$0" "$@"', command, ...args], { stdio: ['pipe', 'pipe', 'ignore'], detached: true });
      const kill = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      let failed = false;
      let closed = false;
      let out = '';
      const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
      child.once('error', (err) => {
        failed = true;
        o.onError(err);
      });
      child.stdin.on('error', () => undefined);
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d: string) => {
        out += d;
        let nl: number;
        while ((nl = out.indexOf('\n')) >= 0) {
          const text = out.slice(0, nl).trim();
          out = out.slice(nl + 1);
          if (text && !closed) o.onResult({ text, isFinal: true });
        }
      });
      return {
        write(pcm) {
          if (!failed && !closed && child.stdin.writable) child.stdin.write(pcm);
        },
        async end() {
          if (!closed) child.stdin.end();
          await exited;
        },
        close() {
          closed = true;
          kill();
        },
      };
    },
  };
}
