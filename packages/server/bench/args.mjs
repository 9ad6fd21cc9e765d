/** The `--name=value` options of a bench (`--name` alone is `''`); other arguments are ignored. */
export function benchArgs(argv = process.argv.slice(2)) {
  return Object.fromEntries(
    argv
      .filter((a) => a.startsWith('--'))
      .map((a) => {
        const [k, v] = a.slice(2).split('=');
        return [k, v ?? ''];
      }),
  );
}
