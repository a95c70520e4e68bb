import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { Fernet, FernetError, FernetKeyring, deriveFernetKey, isFernetToken } from '../../../src/storage/fernet.js';

/**
 * Fernet tokens: the published specification vectors, malformed and expired tokens, key rotation,
 * and interoperability with Python's `cryptography` package in both directions.
 */

const SPEC_SECRET = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const SPEC_TOKEN = 'gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA==';
const SPEC_IAT = 499162800; // 1985-10-26T01:20:00-07:00
const SPEC_NOW = 499162801; // 1985-10-26T01:20:01-07:00
const SPEC_IV = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);

function seconds(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** invalid.json from the specification. */
const INVALID: Array<{ desc: string; token: string; now: string; ttl: number }> = [
  {
    desc: 'incorrect mac',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==',
    now: '1985-10-26T01:20:01-07:00',
    ttl: 60,
  },
  {
    desc: 'too short',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==',
    now: '1985-10-26T01:20:01-07:00',
    ttl: 60,
  },
  {
    desc: 'invalid base64',
    token: '%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==',
    now: '1985-10-26T01:20:01-07:00',
    ttl: 60,
  },
  {
    desc: 'payload size not multiple of block size',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm',
    now: '1985-10-26T01:20:01-07:00',
    ttl: 60,
  },
  {
    desc: 'payload padding error',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==',
    now: '1985-10-26T01:20:01-07:00',
    ttl: 60,
  },
  {
    desc: 'far-future TS (unacceptable clock skew)',
    token: 'gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==',
    now: '1985-10-26T01:20:01-07:00',
    ttl: 60,
  },
  {
    desc: 'expired TTL',
    token: 'gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==',
    now: '1985-10-26T01:21:31-07:00',
    ttl: 60,
  },
  {
    desc: 'incorrect IV (causes padding error)',
    token: 'gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==',
    now: '1985-10-26T01:20:01-07:00',
    ttl: 60,
  },
  { desc: 'very short payload size', token: 'gAAAAABdnQ1TUKh2OE_ggbyCIxfg', now: '1985-10-26T01:20:01-07:00', ttl: 0 },
  { desc: 'super short payload size', token: 'gAAA', now: '1985-10-26T01:20:01-07:00', ttl: 0 },
];

function assertInvalid(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof FernetError, `expected FernetError, got ${String(err)}`);
    assert.equal(err.message, 'InvalidToken');
    return true;
  });
}

/** Flips one bit of the decoded token at `index` and re-encodes it. */
function flipByte(token: string, index: number): string {
  const bytes = Buffer.from(token, 'base64url');
  bytes[index] = bytes[index]! ^ 0x01;
  return bytes.toString('base64url');
}

describe('Fernet: specification vectors', () => {
  it('generates the published token exactly', () => {
    const token = new Fernet(SPEC_SECRET).encrypt('hello', { now: SPEC_IAT, iv: SPEC_IV });
    assert.equal(token, SPEC_TOKEN);
    assert.equal(seconds('1985-10-26T01:20:00-07:00'), SPEC_IAT);
  });

  it('verifies the published token with a 60 s TTL and without one', () => {
    const f = new Fernet(SPEC_SECRET);
    assert.equal(f.decrypt(SPEC_TOKEN, { ttlSeconds: 60, now: SPEC_NOW }).toString('utf8'), 'hello');
    assert.equal(f.decrypt(SPEC_TOKEN).toString('utf8'), 'hello');
  });

  it('accepts the token without its base64 padding', () => {
    const unpadded = SPEC_TOKEN.replace(/=+$/, '');
    assert.notEqual(unpadded, SPEC_TOKEN);
    assert.equal(new Fernet(SPEC_SECRET).decrypt(unpadded, { ttlSeconds: 60, now: SPEC_NOW }).toString(), 'hello');
  });

  for (const vector of INVALID) {
    it(`refuses: ${vector.desc}`, () => {
      const f = new Fernet(SPEC_SECRET);
      assertInvalid(() => f.decrypt(vector.token, { ttlSeconds: vector.ttl, now: seconds(vector.now) }));
    });
  }
});

describe('Fernet: tampering and malformed input', () => {
  const f = new Fernet(SPEC_SECRET);

  it('refuses a tampered HMAC, ciphertext, IV or timestamp', () => {
    const raw = Buffer.from(SPEC_TOKEN, 'base64url');
    for (const index of [raw.length - 1, raw.length - 32, 30, 10, 3]) {
      assertInvalid(() => f.decrypt(flipByte(SPEC_TOKEN, index)));
    }
  });

  it('refuses a wrong version byte even with a valid HMAC over it', () => {
    // Re-sign a token whose version byte is 0x81 so only the version check can refuse it.
    const raw = Buffer.from(SPEC_TOKEN, 'base64url');
    raw[0] = 0x81;
    const keyBytes = Buffer.from(SPEC_SECRET, 'base64url');
    const body = raw.subarray(0, raw.length - 32);
    const mac = createHmac('sha256', keyBytes.subarray(0, 16)).update(body).digest();
    const forged = Buffer.concat([body, mac]).toString('base64url');
    assertInvalid(() => f.decrypt(forged));
  });

  it('refuses truncated tokens at every length', () => {
    for (let cut = 1; cut < SPEC_TOKEN.length - 2; cut += 7) {
      assertInvalid(() => f.decrypt(SPEC_TOKEN.slice(0, SPEC_TOKEN.length - 2 - cut)));
    }
    assertInvalid(() => f.decrypt(''));
  });

  it('refuses the standard base64 alphabet, stray padding and whitespace', () => {
    assertInvalid(() => f.decrypt(SPEC_TOKEN.replace(/-/g, '+').replace(/_/g, '/')));
    assertInvalid(() => f.decrypt(`${SPEC_TOKEN}=`));
    assertInvalid(() => f.decrypt(` ${SPEC_TOKEN}`));
    assertInvalid(() => f.decrypt(`${SPEC_TOKEN}\n`));
  });

  it('refuses a token made under another key', () => {
    const other = new Fernet(deriveFernetKey('another secret'));
    assertInvalid(() => f.decrypt(other.encrypt('hello')));
  });

  it('applies the TTL: fresh accepted, expired refused, far future refused', () => {
    const token = f.encrypt('payload', { now: 1_000_000 });
    assert.equal(f.decrypt(token, { ttlSeconds: 30, now: 1_000_030 }).toString(), 'payload');
    assertInvalid(() => f.decrypt(token, { ttlSeconds: 30, now: 1_000_031 }));
    assert.equal(f.decrypt(token, { ttlSeconds: 30, now: 1_000_000 - 60 }).toString(), 'payload');
    assertInvalid(() => f.decrypt(token, { ttlSeconds: 30, now: 1_000_000 - 61 }));
    // Without a TTL the age is not checked.
    assert.equal(f.decrypt(token, { now: 9_999_999_999 }).toString(), 'payload');
  });

  it('error messages carry no key material', () => {
    try {
      f.decrypt(flipByte(SPEC_TOKEN, 40));
      assert.fail('should have thrown');
    } catch (err) {
      assert.ok(err instanceof FernetError);
      assert.ok(!String(err.message).includes(SPEC_SECRET));
      assert.ok(!String(err.stack).includes(SPEC_SECRET));
    }
  });

  it('refuses malformed keys', () => {
    assert.throws(() => new Fernet('short'));
    assert.throws(() => new Fernet(Buffer.alloc(31).toString('base64url')));
    assert.throws(() => new Fernet(`${SPEC_SECRET.slice(0, 10)}%${SPEC_SECRET.slice(11)}`));
  });
});

describe('Fernet: round trips and helpers', () => {
  it('round-trips text and binary of many lengths, with fresh random IVs', () => {
    const f = new Fernet(deriveFernetKey('round trip'));
    for (const len of [0, 1, 15, 16, 17, 31, 32, 33, 1000]) {
      const data = Buffer.alloc(len, 0xab);
      const token = f.encrypt(data);
      assert.ok(isFernetToken(token));
      assert.ok(token.length % 4 === 0, 'token is padded base64');
      assert.deepEqual(f.decrypt(token), data);
    }
    const text = 'ünïcødé ✓ — secret';
    assert.equal(f.decrypt(f.encrypt(text)).toString('utf8'), text);
    assert.notEqual(f.encrypt('same'), f.encrypt('same'));
  });

  it('deriveFernetKey is urlsafe_b64encode(sha256(secret))', () => {
    const expected = createHash('sha256').update('s3cret-rotation-A', 'utf8').digest('base64').replace(/\+/g, '-').replace(/\//g, '_');
    assert.equal(deriveFernetKey('s3cret-rotation-A'), expected);
    assert.equal(deriveFernetKey('x').length, 44);
    assert.ok(deriveFernetKey('x').endsWith('='));
  });

  it('isFernetToken checks shape only', () => {
    assert.equal(isFernetToken(SPEC_TOKEN), true);
    assert.equal(isFernetToken(SPEC_TOKEN.replace(/=+$/, '')), true);
    assert.equal(isFernetToken('gAAA'), false);
    assert.equal(isFernetToken(''), false);
    assert.equal(isFernetToken('plain text api key'), false);
    assert.equal(isFernetToken('sk-abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop'), false);
    const wrongVersion = Buffer.from(SPEC_TOKEN, 'base64url');
    wrongVersion[0] = 0x81;
    assert.equal(isFernetToken(wrongVersion.toString('base64url')), false);
  });
});

describe('FernetKeyring', () => {
  it('parses comma-separated secrets, trimming and skipping empties', () => {
    const ring = FernetKeyring.fromSecrets(' new , ,old,');
    assert.equal(ring.size, 2);
    assert.equal(ring.usesDefaultTestKey, false);
    assert.throws(() => FernetKeyring.fromSecrets(' , '));
  });

  it('flags the default test key', () => {
    assert.equal(FernetKeyring.fromSecrets('test_key').usesDefaultTestKey, true);
    assert.equal(FernetKeyring.fromSecrets('real, test_key ').usesDefaultTestKey, true);
    assert.equal(FernetKeyring.fromSecrets('test_key_2').usesDefaultTestKey, false);
  });

  it('rotates: new,old opens old tokens, encrypts under new, rotate() re-keys', () => {
    const oldRing = FernetKeyring.fromSecrets('old');
    const newRing = FernetKeyring.fromSecrets('new');
    const both = FernetKeyring.fromSecrets('new,old');

    const underOld = oldRing.encrypt('api-key-123');
    assert.equal(both.decrypt(underOld), 'api-key-123');

    const underNew = both.encrypt('api-key-456');
    assert.equal(newRing.decrypt(underNew), 'api-key-456');
    assertInvalid(() => oldRing.decrypt(underNew));

    const rotated = both.rotate(underOld);
    assert.notEqual(rotated, underOld);
    assert.equal(newRing.decrypt(rotated), 'api-key-123');
    assertInvalid(() => oldRing.decrypt(rotated));
  });

  it('throws FernetError when no key opens the token', () => {
    const ring = FernetKeyring.fromSecrets('a,b,c');
    assertInvalid(() => ring.decrypt(FernetKeyring.fromSecrets('d').encrypt('x')));
    assertInvalid(() => ring.decrypt('not a token'));
    assertInvalid(() => ring.rotate('not a token'));
  });
});

describe('Fernet: interoperability with Python cryptography', () => {
  function python(script: string, args: string[]): string {
    try {
      return execFileSync('python3', ['-c', script, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === 'ENOENT') {
        assert.fail('python3 is required for the Fernet interoperability test but was not found on PATH');
      }
      if (typeof e.stderr === 'string' && e.stderr.includes("No module named 'cryptography'")) {
        assert.fail("the Python package 'cryptography' is required for the Fernet interoperability test (pip install cryptography)");
      }
      throw err;
    }
  }

  it('python3 with cryptography is available', () => {
    const version = python('import cryptography; print(cryptography.__version__)', []);
    assert.match(version.trim(), /^\d+\./);
  });

  it('Python decrypts a token Engram made', () => {
    const secret = 's3cret-rotation-A';
    const plaintext = 'sk-engram → python ✓';
    const token = FernetKeyring.fromSecrets(secret).encrypt(plaintext);
    const script = [
      'import sys, base64, hashlib',
      'from cryptography.fernet import Fernet',
      'key = base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest())',
      'sys.stdout.buffer.write(Fernet(key).decrypt(sys.argv[2].encode(), ttl=3600))',
    ].join('\n');
    assert.equal(python(script, [secret, token]), plaintext);
  });

  it('Engram decrypts a token Python made', () => {
    const secret = 's3cret-rotation-A';
    const plaintext = 'sk-python → engram ✓';
    const script = [
      'import sys, base64, hashlib',
      'from cryptography.fernet import Fernet',
      'key = base64.urlsafe_b64encode(hashlib.sha256(sys.argv[1].encode()).digest())',
      'print(key.decode())',
      'print(Fernet(key).encrypt(sys.argv[2].encode()).decode())',
    ].join('\n');
    const [pyKey, pyToken] = python(script, [secret, plaintext]).trim().split('\n');
    assert.equal(pyKey, deriveFernetKey(secret));
    assert.ok(pyToken !== undefined && isFernetToken(pyToken));
    assert.equal(FernetKeyring.fromSecrets(secret).decrypt(pyToken), plaintext);
    assert.equal(new Fernet(deriveFernetKey(secret)).decrypt(pyToken, { ttlSeconds: 3600 }).toString('utf8'), plaintext);
  });
});
