// `--name value` / `--flag` command-line parsing with typed accessors and usage errors.
import { KV_TYPES, type KvType } from '../gpu/kv/layout';

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export class Args {
  private readonly values = new Map<string, string | true>();

  constructor(argv: readonly string[], private readonly flags: ReadonlySet<string>, private readonly options: ReadonlySet<string>) {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      if (!a.startsWith('--')) throw new UsageError(`unexpected argument "${a}"`);
      const name = a.slice(2);
      if (flags.has(name)) this.values.set(name, true);
      else if (options.has(name)) {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`--${name} needs a value`);
        this.values.set(name, v);
      } else throw new UsageError(`unknown option --${name}`);
    }
  }

  flag(name: string): boolean {
    return this.values.get(name) === true;
  }

  string(name: string): string | undefined {
    const v = this.values.get(name);
    return typeof v === 'string' ? v : undefined;
  }

  required(name: string): string {
    const v = this.string(name);
    if (v === undefined) throw new UsageError(`--${name} is required`);
    return v;
  }

  number(name: string, fallback: number, check: (n: number) => boolean = Number.isFinite, what = 'a number'): number {
    const v = this.string(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (v.trim() === '' || !check(n)) throw new UsageError(`--${name} must be ${what}, not "${v}"`);
    return n;
  }
}

/** `--kv-type f16|q8_0|q4_0`: the K/V cache type, undefined (the engine's default) when absent. */
export function kvTypeArg(args: Args): KvType | undefined {
  const v = args.string('kv-type');
  if (v === undefined) return undefined;
  if (!(KV_TYPES as readonly string[]).includes(v)) throw new UsageError(`--kv-type must be one of ${KV_TYPES.join(', ')}, not "${v}"`);
  return v as KvType;
}

/** Runs a CLI main: usage and input errors go to stderr with exit code 2 (usage) or 1 (anything else). */
export function runMain(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      const err = e as Error;
      process.stderr.write(`error: ${err.message ?? String(e)}\n`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}
