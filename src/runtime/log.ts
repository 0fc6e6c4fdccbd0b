import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  /** Defaults to stdout. */
  destination?: DestinationStream;
}

// Belt and braces: we never log credentials or Secret data on purpose, but an error object or a request option
// that carries them must not leak either.
const REDACT = [
  'authorization',
  'Authorization',
  'token',
  'password',
  '*.authorization',
  '*.Authorization',
  '*.token',
  '*.password',
  '*.headers.authorization',
  '*.headers.Authorization',
  '*.stringData',
];

/** Structured JSON logs, one object per line. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
