import pino, { type DestinationStream, type Logger } from 'pino';

/** Paths pino blanks out wherever they appear in a log record: no secret is ever logged. */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-api-key"]',
  '*.password',
  '*.hashed_password',
  '*.hashedPassword',
  '*.access_token',
  '*.api_key',
  '*.apiKey',
  '*.secret',
  '*.smtpPassword',
  'password',
  'access_token',
  'api_key',
  'apiKey',
  'secret',
];

/**
 * pino's ISO time (`,"time":"…"`), formatted once per millisecond: a busy server writes many
 * records in the same millisecond, and formatting a date costs more than the rest of a short record.
 */
let lastMs = -1;
let lastTime = '';
export function isoTime(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastTime = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastTime;
}

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'engram' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: isoTime,
    },
    destination,
  );
}
