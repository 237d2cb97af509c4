// Minimal argv parsing: positionals, --flag, --key value / --key=value. Unknown options are errors.

export interface ParsedArgs {
  positionals: string[];
  options: Map<string, string | true>;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], valued: readonly string[], flags: readonly string[]): ParsedArgs {
  const positionals: string[] = [];
  const options = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith('--') || a === '-') {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const key = eq > 0 ? a.slice(2, eq) : a.slice(2);
    if (valued.includes(key)) {
      const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`--${key} needs a value`);
      options.set(key, v);
    } else if (flags.includes(key)) {
      options.set(key, true);
    } else {
      throw new UsageError(`unknown option --${key}`);
    }
  }
  return { positionals, options };
}

/**
 * Takes every `--name X` / `--name=X` out of argv, for options that may be given more than once (the
 * shared parser keeps one value per option). Returns the rest of argv and the values in order.
 */
export function takeRepeated(argv: string[], name: string, hint = 'a value'): { rest: string[]; values: string[] } {
  const rest: string[] = [];
  const values: string[] = [];
  const flag = `--${name}`;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === flag) {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs ${hint}`);
      values.push(v);
    } else if (a.startsWith(`${flag}=`)) values.push(a.slice(flag.length + 1));
    else rest.push(a);
  }
  return { rest, values };
}
