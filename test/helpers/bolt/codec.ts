/**
 * PackStream v1 (the Bolt protocol's value encoding) and Bolt's message chunking, for the Bolt
 * stand-in (see index.ts): what goes on the wire, without any meaning attached.
 */

/** A PackStream structure: a tag byte and its fields. */
export class Struct {
  constructor(
    readonly tag: number,
    readonly fields: unknown[],
  ) {}
}

/** A PackStream Float (a JavaScript number is sent as an Integer when it is integral). */
export class Float {
  constructor(readonly value: number) {}
}

export class Writer {
  private buf = Buffer.alloc(1024);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.len);
    this.len += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.len);
    this.len += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.len);
    this.len += 4;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    Buffer.from(b.buffer, b.byteOffset, b.byteLength).copy(this.buf, this.len);
    this.len += b.length;
  }
  result(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}

function packInt(w: Writer, value: bigint): void {
  if (value >= -16n && value <= 127n) {
    w.u8(Number(value) & 0xff);
  } else if (value >= -128n && value <= 127n) {
    w.u8(0xc8);
    w.u8(Number(value) & 0xff);
  } else if (value >= -32768n && value <= 32767n) {
    w.u8(0xc9);
    w.u16(Number(value) & 0xffff);
  } else if (value >= -2147483648n && value <= 2147483647n) {
    w.u8(0xca);
    w.u32(Number(value) >>> 0);
  } else {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    w.u8(0xcb);
    w.bytes(b);
  }
}

function packSize(w: Writer, size: number, tiny: number, m8: number, m16: number, m32: number): void {
  if (size < 16 && tiny >= 0) w.u8(tiny + size);
  else if (size < 0x100 && m8 >= 0) {
    w.u8(m8);
    w.u8(size);
  } else if (size < 0x10000) {
    w.u8(m16);
    w.u16(size);
  } else {
    w.u8(m32);
    w.u32(size);
  }
}

export function pack(w: Writer, value: unknown): void {
  if (value === null || value === undefined) return w.u8(0xc0);
  if (value === true) return w.u8(0xc3);
  if (value === false) return w.u8(0xc2);
  if (value instanceof Float || (typeof value === 'number' && !Number.isInteger(value))) {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(value instanceof Float ? value.value : (value as number));
    w.u8(0xc1);
    return w.bytes(b);
  }
  if (typeof value === 'number') return packInt(w, BigInt(value));
  if (typeof value === 'bigint') {
    if (value >= -(2n ** 63n) && value < 2n ** 63n) return packInt(w, value);
    return pack(w, value.toString());
  }
  if (typeof value === 'string') {
    const b = Buffer.from(value, 'utf8');
    packSize(w, b.length, 0x80, 0xd0, 0xd1, 0xd2);
    return w.bytes(b);
  }
  if (value instanceof Uint8Array) {
    packSize(w, value.length, -1, 0xcc, 0xcd, 0xce);
    return w.bytes(value);
  }
  if (Array.isArray(value)) {
    packSize(w, value.length, 0x90, 0xd4, 0xd5, 0xd6);
    for (const item of value) pack(w, item);
    return;
  }
  if (value instanceof Struct) {
    w.u8(0xb0 + value.fields.length);
    w.u8(value.tag);
    for (const field of value.fields) pack(w, field);
    return;
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    packSize(w, entries.length, 0xa0, 0xd8, 0xd9, 0xda);
    for (const [k, v] of entries) {
      pack(w, k);
      pack(w, v);
    }
    return;
  }
  throw new Error(`cannot pack a ${typeof value}`);
}

export class Reader {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}

  read(): unknown {
    const m = this.buf.readUInt8(this.pos++);
    if (m < 0x80) return m;
    if (m >= 0xf0) return m - 0x100;
    const hi = m & 0xf0;
    const lo = m & 0x0f;
    if (hi === 0x80) return this.string(lo);
    if (hi === 0x90) return this.list(lo);
    if (hi === 0xa0) return this.map(lo);
    if (hi === 0xb0) return this.struct(lo);
    switch (m) {
      case 0xc0:
        return null;
      case 0xc1: {
        const v = this.buf.readDoubleBE(this.pos);
        this.pos += 8;
        return new Float(v);
      }
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc8:
        return this.buf.readInt8(this.pos++);
      case 0xc9: {
        const v = this.buf.readInt16BE(this.pos);
        this.pos += 2;
        return v;
      }
      case 0xca: {
        const v = this.buf.readInt32BE(this.pos);
        this.pos += 4;
        return v;
      }
      case 0xcb: {
        const v = this.buf.readBigInt64BE(this.pos);
        this.pos += 8;
        return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
      }
      case 0xcc:
        return this.bytes(this.size(1));
      case 0xcd:
        return this.bytes(this.size(2));
      case 0xce:
        return this.bytes(this.size(4));
      case 0xd0:
        return this.string(this.size(1));
      case 0xd1:
        return this.string(this.size(2));
      case 0xd2:
        return this.string(this.size(4));
      case 0xd4:
        return this.list(this.size(1));
      case 0xd5:
        return this.list(this.size(2));
      case 0xd6:
        return this.list(this.size(4));
      case 0xd8:
        return this.map(this.size(1));
      case 0xd9:
        return this.map(this.size(2));
      case 0xda:
        return this.map(this.size(4));
      default:
        throw new Error(`unknown PackStream marker 0x${m.toString(16)}`);
    }
  }
  private size(n: 1 | 2 | 4): number {
    const v = n === 1 ? this.buf.readUInt8(this.pos) : n === 2 ? this.buf.readUInt16BE(this.pos) : this.buf.readUInt32BE(this.pos);
    this.pos += n;
    return v;
  }
  private string(n: number): string {
    const s = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
  private bytes(n: number): Uint8Array {
    const b = new Uint8Array(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return b;
  }
  private list(n: number): unknown[] {
    const out: unknown[] = [];
    for (let i = 0; i < n; i++) out.push(this.read());
    return out;
  }
  private map(n: number): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const key = this.read();
      if (typeof key !== 'string') throw new Error('a PackStream map key must be a string');
      out[key] = this.read();
    }
    return out;
  }
  private struct(n: number): Struct {
    const tag = this.buf.readUInt8(this.pos++);
    const fields: unknown[] = [];
    for (let i = 0; i < n; i++) fields.push(this.read());
    return new Struct(tag, fields);
  }
}

/** Decodes one PackStream value (a whole Bolt message is one structure). */
export function unpack(buf: Buffer): unknown {
  return new Reader(buf).read();
}

/** A Bolt message as it goes on the wire: the packed structure in chunks of at most 0xffff bytes, then a zero-size chunk. */
export function encodeMessage(tag: number, fields: unknown[]): Buffer {
  const w = new Writer();
  pack(w, new Struct(tag, fields));
  const body = w.result();
  const out = new Writer();
  for (let i = 0; i < body.length; i += 0xffff) {
    const part = body.subarray(i, Math.min(body.length, i + 0xffff));
    out.u16(part.length);
    out.bytes(part);
  }
  out.u16(0);
  return out.result();
}

/** Reassembles received bytes into whole messages. */
export class Dechunker {
  private buffer: Buffer = Buffer.alloc(0);
  private messageParts: Buffer[] = [];

  /** Takes the bytes received; returns the messages they complete, in order. */
  push(data: Buffer): Buffer[] {
    this.buffer = this.buffer.length === 0 ? data : Buffer.concat([this.buffer, data]);
    const messages: Buffer[] = [];
    // Chunks: a 2-byte size then the bytes; a message ends with a zero-size chunk.
    while (this.buffer.length >= 2) {
      const size = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + size) break;
      const chunk = this.buffer.subarray(2, 2 + size);
      this.buffer = this.buffer.subarray(2 + size);
      if (size > 0) {
        this.messageParts.push(Buffer.from(chunk));
        continue;
      }
      if (this.messageParts.length === 0) continue; // a NOOP chunk (keep-alive)
      messages.push(Buffer.concat(this.messageParts));
      this.messageParts = [];
    }
    return messages;
  }
}
