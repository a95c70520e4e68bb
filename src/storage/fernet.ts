/**
 * Fernet symmetric tokens, wire-compatible with the reference (which stores secrets such as
 * provider API keys encrypted at rest with Fernet).
 *
 * Token layout (all fields concatenated, then encoded as URL-safe base64 WITH '=' padding):
 *
 *   version (1 byte, 0x80) | timestamp (8 bytes, big-endian seconds) | IV (16 bytes)
 *   | AES-128-CBC ciphertext with PKCS#7 padding (n * 16 bytes) | HMAC-SHA256 (32 bytes)
 *
 * The HMAC covers every byte before it. A 32-byte key (URL-safe base64, 44 characters) holds the
 * signing key in its first 16 bytes and the encryption key in its last 16.
 *
 * Engram derives a Fernet key from an arbitrary secret string exactly as the reference does:
 * URL-safe base64 of SHA-256 of the UTF-8 secret. A `FernetKeyring` holds several such keys so a
 * secret can be rotated: new tokens are made under the first key, old ones still open with any.
 *
 * Every failure to open a token raises `FernetError` with the fixed message 'InvalidToken'; the
 * message never says which check failed and never carries any key material.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const VERSION = 0x80;
const VERSION_LEN = 1;
const TIMESTAMP_LEN = 8;
const IV_LEN = 16;
const BLOCK_LEN = 16;
const HMAC_LEN = 32;
const HEADER_LEN = VERSION_LEN + TIMESTAMP_LEN + IV_LEN; // 25
/** Smallest possible token: header, one cipher block, HMAC. */
const MIN_TOKEN_LEN = HEADER_LEN + BLOCK_LEN + HMAC_LEN; // 73
/** Tokens stamped further than this into the future are refused when a TTL is checked. */
const MAX_CLOCK_SKEW_SECONDS = 60;

/** The literal development secret whose use is flagged by `FernetKeyring.usesDefaultTestKey`. */
const DEFAULT_TEST_SECRET = 'test_key';

/** Raised when a token cannot be opened (bad shape, bad HMAC, bad padding, expired, wrong key). */
export class FernetError extends Error {
  constructor() {
    super('InvalidToken');
    this.name = 'FernetError';
  }
}

/** URL-safe base64 with '=' padding (the form Python's `base64.urlsafe_b64encode` produces). */
function toBase64UrlPadded(bytes: Buffer): string {
  return bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

const BASE64URL_SHAPE = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Strict URL-safe base64 decoding: padding optional, but only the URL-safe alphabet is accepted
 * and a length that no encoding can produce is refused. Returns undefined on any malformation.
 */
function fromBase64Url(text: string): Buffer | undefined {
  if (!BASE64URL_SHAPE.test(text)) return undefined;
  const body = text.replace(/=+$/, '');
  const padding = text.length - body.length;
  if (body.length % 4 === 1) return undefined;
  if (padding > 0 && (body.length + padding) % 4 !== 0) return undefined;
  const bytes = Buffer.from(body, 'base64url');
  // Refuse non-canonical trailing bits so one token has exactly one text form.
  if (bytes.toString('base64url') !== body) return undefined;
  return bytes;
}

/**
 * Fernet key for a secret string: URL-safe base64 (padded) of SHA-256 of its UTF-8 bytes.
 * Byte-compatible with `base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest())`.
 */
export function deriveFernetKey(secret: string): string {
  return toBase64UrlPadded(createHash('sha256').update(secret, 'utf8').digest());
}

/** Cheap shape check: URL-safe base64, version byte 0x80, at least the minimum token length. */
export function isFernetToken(value: string): boolean {
  if (typeof value !== 'string' || value.length === 0) return false;
  const bytes = fromBase64Url(value);
  return bytes !== undefined && bytes.length >= MIN_TOKEN_LEN && bytes[0] === VERSION;
}

export interface FernetEncryptOptions {
  /** Timestamp to stamp, in whole seconds since the epoch. Defaults to the current time. */
  now?: number;
  /** 16-byte IV. Defaults to fresh random bytes; only tests should set it. */
  iv?: Buffer;
}

export interface FernetDecryptOptions {
  /** Largest accepted token age in seconds. Omitted: age is not checked. */
  ttlSeconds?: number;
  /** Current time in seconds since the epoch. Defaults to the clock. */
  now?: number;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** One Fernet key. */
export class Fernet {
  readonly #signingKey: Buffer;
  readonly #encryptionKey: Buffer;

  /** @param key 32 bytes as URL-safe base64 (44 characters, padding optional). */
  constructor(key: string) {
    const bytes = typeof key === 'string' ? fromBase64Url(key) : undefined;
    if (bytes === undefined || bytes.length !== 32) {
      throw new Error('Fernet key must be 32 url-safe base64-encoded bytes');
    }
    this.#signingKey = bytes.subarray(0, 16);
    this.#encryptionKey = bytes.subarray(16, 32);
  }

  encrypt(plaintext: string | Buffer, opts: FernetEncryptOptions = {}): string {
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    const now = opts.now ?? nowSeconds();
    if (!Number.isSafeInteger(now) || now < 0) throw new Error('Fernet timestamp must be a non-negative integer');
    const iv = opts.iv ?? randomBytes(IV_LEN);
    if (iv.length !== IV_LEN) throw new Error('Fernet IV must be 16 bytes');

    const header = Buffer.alloc(HEADER_LEN);
    header[0] = VERSION;
    header.writeBigUInt64BE(BigInt(now), VERSION_LEN);
    iv.copy(header, VERSION_LEN + TIMESTAMP_LEN);

    const cipher = createCipheriv('aes-128-cbc', this.#encryptionKey, iv);
    const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
    const signed = Buffer.concat([header, ciphertext]);
    const mac = createHmac('sha256', this.#signingKey).update(signed).digest();
    return toBase64UrlPadded(Buffer.concat([signed, mac]));
  }

  /** Opens a token; throws FernetError on any failure. The HMAC is checked before decrypting. */
  decrypt(token: string, opts: FernetDecryptOptions = {}): Buffer {
    if (typeof token !== 'string') throw new FernetError();
    const bytes = fromBase64Url(token);
    if (bytes === undefined || bytes.length < MIN_TOKEN_LEN || bytes[0] !== VERSION) throw new FernetError();
    const cipherLen = bytes.length - HEADER_LEN - HMAC_LEN;
    if (cipherLen % BLOCK_LEN !== 0) throw new FernetError();

    const signed = bytes.subarray(0, bytes.length - HMAC_LEN);
    const mac = bytes.subarray(bytes.length - HMAC_LEN);
    const expected = createHmac('sha256', this.#signingKey).update(signed).digest();
    if (!timingSafeEqual(mac, expected)) throw new FernetError();

    if (opts.ttlSeconds !== undefined) {
      const timestamp = bytes.readBigUInt64BE(VERSION_LEN);
      const now = BigInt(Math.floor(opts.now ?? nowSeconds()));
      const ttl = BigInt(Math.floor(opts.ttlSeconds));
      if (timestamp + ttl < now) throw new FernetError();
      if (now + BigInt(MAX_CLOCK_SKEW_SECONDS) < timestamp) throw new FernetError();
    }

    const iv = bytes.subarray(VERSION_LEN + TIMESTAMP_LEN, HEADER_LEN);
    const ciphertext = bytes.subarray(HEADER_LEN, bytes.length - HMAC_LEN);
    try {
      const decipher = createDecipheriv('aes-128-cbc', this.#encryptionKey, iv);
      return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    } catch {
      throw new FernetError();
    }
  }
}

/**
 * Several Fernet keys derived from secrets. Encrypts with the first; decrypts with any.
 */
export class FernetKeyring {
  /** True when any secret is the well-known development value `test_key`. */
  readonly usesDefaultTestKey: boolean;
  readonly #keys: Fernet[];

  private constructor(secrets: string[]) {
    if (secrets.length === 0) throw new Error('FernetKeyring needs at least one secret');
    this.#keys = secrets.map((secret) => new Fernet(deriveFernetKey(secret)));
    this.usesDefaultTestKey = secrets.includes(DEFAULT_TEST_SECRET);
  }

  /** Comma-separated secrets, newest first; entries are trimmed and empty ones ignored. */
  static fromSecrets(secretsCommaSeparated: string): FernetKeyring {
    const secrets = secretsCommaSeparated
      .split(',')
      .map((entry) => entry.trim())
      .filter((entry) => entry.length > 0);
    return new FernetKeyring(secrets);
  }

  /** Number of keys held. */
  get size(): number {
    return this.#keys.length;
  }

  /** Encrypts UTF-8 text under the first (newest) key. */
  encrypt(text: string): string {
    return this.#keys[0]!.encrypt(text);
  }

  /**
   * Decrypts with whichever key opens the token. Every key is tried even after a match, so the
   * time taken does not reveal which key (if any) worked.
   */
  decrypt(token: string): string {
    let opened: Buffer | undefined;
    for (const key of this.#keys) {
      try {
        const plaintext = key.decrypt(token);
        opened ??= plaintext;
      } catch {
        // try the next key
      }
    }
    if (opened === undefined) throw new FernetError();
    return opened.toString('utf8');
  }

  /** Re-encrypts a token made under any key so it is under the first key. */
  rotate(token: string): string {
    return this.encrypt(this.decrypt(token));
  }
}
