import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config/index.js';

/**
 * D4: a secret that is not configured is generated once (256 random bits) and kept under the system
 * root with mode 0600, so restarts keep sessions. Several instances must share the configured value.
 */
export interface SigningSecrets {
  readonly jwt: string;
  readonly reset: string;
  readonly verify: string;
  /** Human-readable origin of each secret, for the startup log (never the value). */
  readonly sources: Readonly<Record<'jwt' | 'reset' | 'verify', string>>;
}

const FILES = { jwt: 'jwt_secret', reset: 'reset_password_secret', verify: 'verification_secret' } as const;
const VARIABLES = {
  jwt: 'FASTAPI_USERS_JWT_SECRET',
  reset: 'FASTAPI_USERS_RESET_PASSWORD_TOKEN_SECRET',
  verify: 'FASTAPI_USERS_VERIFICATION_TOKEN_SECRET',
} as const;

function storedSecret(dir: string, file: string): string {
  const path = join(dir, file);
  try {
    // 'wx' fails if another process created it first; then the existing value is read.
    writeFileSync(path, randomBytes(32).toString('base64url'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const value = readFileSync(path, 'utf8').trim();
  if (value.length < 32) throw new Error(`The stored secret ${path} is damaged; delete it to regenerate`);
  return value;
}

export function resolveSecrets(config: Config): SigningSecrets {
  const dir = join(config.systemRoot, 'secrets');
  const configured = {
    jwt: config.auth.jwtSecret,
    reset: config.auth.resetSecret,
    verify: config.auth.verifySecret,
  };
  const values = {} as Record<keyof typeof FILES, string>;
  const sources = {} as Record<keyof typeof FILES, string>;
  for (const key of Object.keys(FILES) as (keyof typeof FILES)[]) {
    const value = configured[key];
    if (value !== undefined) {
      values[key] = value;
      sources[key] = `from ${VARIABLES[key]}`;
    } else {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      values[key] = storedSecret(dir, FILES[key]);
      sources[key] = `generated, kept in ${join(dir, FILES[key])}`;
    }
  }
  return Object.freeze({ ...values, sources: Object.freeze(sources) });
}
