/**
 * Reading an outbound response body within a byte budget counted after decompression (gzip,
 * deflate in either framing, brotli; stacked encodings undone in order), so a small compressed
 * answer cannot expand past the limit.
 */
import type { IncomingMessage } from 'node:http';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';

export function bodyTooLarge(maxBytes: number): Error {
  return new Error(`Response body exceeds ${maxBytes} bytes.`);
}

type Decoder = () => Transform;

/**
 * Inflater for `deflate`: servers send either zlib-wrapped (as the standard says) or raw deflate
 * data, so the first byte picks the decoder (a zlib header has compression method 8 in its low nibble).
 */
class AutoInflate extends Transform {
  private inner: zlib.Inflate | zlib.InflateRaw | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.inner === undefined) {
      const inner = (chunk[0]! & 0x0f) === 0x08 ? zlib.createInflate() : zlib.createInflateRaw();
      inner.on('data', (data: Buffer) => this.push(data));
      inner.on('error', (error: Error) => this.destroy(error));
      this.inner = inner;
    }
    this.inner.write(chunk, () => callback());
  }

  override _flush(callback: TransformCallback): void {
    if (this.inner === undefined) {
      callback();
      return;
    }
    this.inner.once('end', () => callback());
    this.inner.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner?.destroy();
    callback(error);
  }
}

/** The decoders for a Content-Encoding header, in the order they must be applied. */
function decodersFor(contentEncoding: string | undefined): Decoder[] | Error {
  const codings = (contentEncoding ?? '')
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity')
    .reverse();
  const decoders: Decoder[] = [];
  for (const coding of codings) {
    if (coding === 'gzip' || coding === 'x-gzip') decoders.push(() => zlib.createGunzip());
    else if (coding === 'deflate') decoders.push(() => new AutoInflate());
    else if (coding === 'br') decoders.push(() => zlib.createBrotliDecompress());
    else return new Error(`Unsupported content-encoding '${coding}'.`);
  }
  return decoders;
}

/** Reads a response to the end, decompressing it, and stops as soon as it exceeds `maxBytes`. */
export function readBody(res: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const decoders = decodersFor(res.headers['content-encoding']);
    if (decoders instanceof Error) {
      res.destroy();
      reject(decoders);
      return;
    }
    let stream: Readable = res;
    const streams: Readable[] = [res];
    for (const make of decoders) {
      const decoder = make();
      stream.on('error', (e: Error) => decoder.destroy(e));
      stream = stream.pipe(decoder);
      streams.push(decoder);
    }

    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      for (const s of streams) s.destroy();
      reject(error);
    };
    stream.on('data', (chunk: Buffer) => {
      if (settled) return;
      total += chunk.length;
      if (total > maxBytes) {
        fail(bodyTooLarge(maxBytes));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('error', (e: Error) => fail(e));
    res.on('close', () => {
      if (!res.complete) fail(new Error('The connection was closed before the response was complete.'));
    });
    stream.on('end', () => {
      if (settled) return;
      settled = true;
      resolve(Buffer.concat(chunks, total));
    });
  });
}
