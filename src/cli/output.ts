// What `check` and `status` print: `-o table` (the default; colour only on a TTY), `json` or `yaml`. Counts are
// bigints: JSON and YAML get them as exact decimal strings.
import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';
export const outputFormats: readonly OutputFormat[] = ['table', 'json', 'yaml'];

export function isOutputFormat(s: string | undefined): s is OutputFormat {
  return outputFormats.includes(s as OutputFormat);
}

const plain = (value: unknown): unknown =>
  JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));

export function formatData(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? `${JSON.stringify(plain(value), null, 2)}\n` : stringify(plain(value));
}

export interface Style {
  bold(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  green(s: string): string;
}

const sgr = (code: number) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const none = (s: string) => s;

/** Colour only on a terminal, and never with NO_COLOR set. */
export function styleFor(stream: NodeJS.WriteStream): Style {
  const on = Boolean(stream.isTTY) && !process.env.NO_COLOR;
  return on
    ? { bold: sgr(1), red: sgr(31), yellow: sgr(33), green: sgr(32) }
    : { bold: none, red: none, yellow: none, green: none };
}

/** Columns padded to their widest cell; the header in bold. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], style: Style): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [style.bold(line(header)), ...rows.map(line)].join('\n') + '\n';
}
