import { createHash } from 'node:crypto';

/** RFC 4122 name-based UUID (version 5, SHA-1), as Python's `uuid.uuid5`. */
export const NAMESPACE_OID = '6ba7b812-9dad-11d1-80b4-00c04fd430c8';

export function uuid5(name: string, namespace = NAMESPACE_OID): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * The reference's dataset id: uuid5(NAMESPACE_OID, name + user id + tenant id), a null tenant
 * written as "None"; so the same name in different tenants is a different dataset.
 */
export function datasetId(name: string, ownerId: string, tenantId: string | null): string {
  return uuid5(`${name}${ownerId}${tenantId ?? 'None'}`);
}

/** The id the reference used before tenants existed (still honoured when such a row exists). */
export function legacyDatasetId(name: string, ownerId: string): string {
  return uuid5(`${name}${ownerId}`);
}

/** A UUID in its canonical 8-4-4-4-12 hex form, either case (the one UUID pattern of the code base). */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A string in the UUID layout (any version, either case). */
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID_PATTERN.test(value);
