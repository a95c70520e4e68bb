import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { hash as argonHash, verify as argonVerify, Algorithm } from '@node-rs/argon2';
import bcrypt from 'bcryptjs';

/**
 * Password hashing (D8): argon2id with the OWASP parameters (19 MiB, 2 passes, 1 lane), computed on
 * libuv's thread pool so the event loop stays free, a bounded number at a time (`HASH_SLOTS`). bcrypt and older argon2 hashes (from an imported
 * reference database) verify and report `needsRehash`, so login upgrades them.
 */
export const ARGON2_PARAMS = Object.freeze({
  algorithm: Algorithm.Argon2id,
  memoryCost: 19456,
  timeCost: 2,
  parallelism: 1,
});

/** Stored for accounts that can never log in with a password (agents, external users). */
export const UNUSABLE_PASSWORD = '!';

export const MAX_PASSWORD_LENGTH = 128;

/**
 * How many argon2 computations run at once: one core and one thread of libuv's pool are always
 * left to the rest of the server (the event loop serving token checks, file and zlib work), so a
 * login storm queues here rather than starving every other request. At least one.
 */
export const HASH_SLOTS = Math.max(1, Math.min(availableParallelism() - 1, Number(process.env.UV_THREADPOOL_SIZE ?? 4) - 1));
let hashesRunning = 0;
const hashQueue: (() => void)[] = [];

async function inHashSlot<T>(work: () => Promise<T>): Promise<T> {
  if (hashesRunning < HASH_SLOTS) hashesRunning += 1;
  else await new Promise<void>((resolve) => hashQueue.push(resolve));
  try {
    return await work();
  } finally {
    // Hand the slot to the next in line, or give it back.
    const next = hashQueue.shift();
    if (next) next();
    else hashesRunning -= 1;
  }
}

export async function hashPassword(password: string): Promise<string> {
  return inHashSlot(() => argonHash(password, ARGON2_PARAMS));
}

export type VerifyResult =
  | { readonly status: 'valid'; readonly needsRehash: boolean }
  | { readonly status: 'invalid' }
  /** The stored value is no password hash at all (agents, external users). */
  | { readonly status: 'unusable' };

const ARGON_PREFIX = /^\$argon2(id|i|d)\$/;
const BCRYPT_PREFIX = /^\$2[abxy]\$\d{2}\$/;

function isCurrentArgon(stored: string): boolean {
  return stored.startsWith(`$argon2id$v=19$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}$`);
}

export function isUsableHash(stored: string): boolean {
  return ARGON_PREFIX.test(stored) || BCRYPT_PREFIX.test(stored);
}

export async function verifyPassword(password: string, stored: string): Promise<VerifyResult> {
  if (ARGON_PREFIX.test(stored)) {
    let ok = false;
    try {
      ok = await inHashSlot(() => argonVerify(stored, password));
    } catch {
      ok = false;
    }
    return ok ? { status: 'valid', needsRehash: !isCurrentArgon(stored) } : { status: 'invalid' };
  }
  if (BCRYPT_PREFIX.test(stored)) {
    // bcrypt only looks at the first 72 bytes; a longer password must not match a truncated one.
    if (Buffer.byteLength(password, 'utf8') > 72) return { status: 'invalid' };
    const ok = await bcrypt.compare(password, stored);
    return ok ? { status: 'valid', needsRehash: true } : { status: 'invalid' };
  }
  return { status: 'unusable' };
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends the same time as a real verification, for unknown e-mails, password-less and locked
 * accounts, so response times do not reveal which accounts exist (ASVS 6.3.8).
 */
export async function dummyVerify(password: string): Promise<void> {
  dummyHash ??= hashPassword('engram-timing-equaliser-not-a-password');
  const hash = await dummyHash;
  await inHashSlot(() => argonVerify(hash, password)).catch(() => false);
}

// ---------------------------------------------------------------------------------------------
// Policy (D8): length bounds, no composition rules, common and breached-list passwords refused.

const require = createRequire(import.meta.url);
let commonPasswords: Set<string> | undefined;

function common(): Set<string> {
  if (!commonPasswords) {
    // 49k passwords from public breach corpora (zxcvbn-ts's common list), compared case-insensitively.
    const list = require('@zxcvbn-ts/language-common/src/passwords.json') as string[];
    commonPasswords = new Set(list.map((p) => p.toLowerCase()));
    for (const extra of ['default_password', 'changeme', 'password1', 'engram', 'cognee']) {
      commonPasswords.add(extra);
    }
  }
  return commonPasswords;
}

export interface PolicyContext {
  readonly minLength: number;
  readonly email?: string | undefined;
}

/** Returns the reason a password is refused, or undefined when it is acceptable. */
export function passwordPolicyViolation(password: string, context: PolicyContext): string | undefined {
  const length = [...password].length;
  if (length < context.minLength) {
    return `Password should be at least ${context.minLength} characters`;
  }
  if (length > MAX_PASSWORD_LENGTH) {
    return `Password should be at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  const lower = password.toLowerCase();
  if (common().has(lower)) {
    return 'Password is too common: it appears in lists of breached passwords';
  }
  if (context.email) {
    const email = context.email.toLowerCase();
    const local = email.split('@')[0] ?? '';
    if (lower === email || (local.length >= 4 && lower.includes(local))) {
      return 'Password should not contain the e-mail address';
    }
  }
  return undefined;
}
