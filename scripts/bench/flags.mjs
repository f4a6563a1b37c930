// The benchmarks' command-line flags: each flag's value is the next argument, integers are checked
// against their range, and every error names the flag.

/** Reads `argv` flag by flag: next() gives the next flag (undefined after the last), value() and int() its value. */
export function flagReader(argv) {
  let i = -1;
  let flag;
  const value = () => {
    const v = argv[++i];
    if (v === undefined) throw new Error(`${flag} needs a value`);
    return v;
  };
  const int = (min, max) => {
    const n = Number(value());
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag}: an integer ${min}–${max}`);
    return n;
  };
  const next = () => {
    flag = argv[++i];
    return flag;
  };
  return { next, value, int };
}
