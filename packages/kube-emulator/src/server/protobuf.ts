/**
 * Decodes the protobuf request bodies that typed Kubernetes clients send for a few core kinds (helm stores
 * releases in Secrets this way; `kubectl create namespace|configmap|secret` and `kubectl auth can-i` do too).
 * Other kinds stay 415.
 * Responses are always JSON, which those clients accept.
 */
import { unsupportedMediaType } from './errors.js';

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.pos >= this.buf.length;
  }

  varint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= this.buf.length) throw new Error('truncated varint');
      const b = this.buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
    }
  }

  tag(): [field: number, wire: number] {
    const t = this.varint();
    return [Math.floor(t / 8), t & 7];
  }

  bytes(): Buffer {
    const len = this.varint();
    const out = this.buf.subarray(this.pos, this.pos + len);
    this.pos += len;
    return out;
  }

  string(): string {
    return this.bytes().toString('utf8');
  }

  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 1) this.pos += 8;
    else if (wire === 2) {
      const len = this.varint(); // read first: `this.pos += this.varint()` would add to the old position
      this.pos += len;
    }
    else if (wire === 5) this.pos += 4;
    else throw new Error(`unsupported protobuf wire type ${wire}`);
  }
}

type Fields = (field: number, wire: number, r: Reader) => boolean;

/** Reads a message, handing each field to `on`; unknown fields are skipped. */
function message(buf: Buffer, on: Fields): void {
  const r = new Reader(buf);
  while (!r.done) {
    const [field, wire] = r.tag();
    if (!on(field, wire, r)) r.skip(wire);
  }
}

function mapEntry<V>(buf: Buffer, value: (b: Buffer) => V): [string, V | undefined] {
  let key = '';
  let v: V | undefined;
  message(buf, (f, _w, r) => {
    if (f === 1) key = r.string();
    else if (f === 2) v = value(r.bytes());
    else return false;
    return true;
  });
  return [key, v];
}

function time(buf: Buffer): string {
  let seconds = 0;
  message(buf, (f, _w, r) => {
    if (f !== 1) return false;
    seconds = r.varint();
    return true;
  });
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const text = (b: Buffer) => b.toString('utf8');
const base64 = (b: Buffer) => b.toString('base64');

function ownerReference(buf: Buffer): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  message(buf, (f, _w, r) => {
    if (f === 1) o['kind'] = r.string();
    else if (f === 3) o['name'] = r.string();
    else if (f === 4) o['uid'] = r.string();
    else if (f === 5) o['apiVersion'] = r.string();
    else if (f === 6) o['controller'] = r.varint() !== 0;
    else if (f === 7) o['blockOwnerDeletion'] = r.varint() !== 0;
    else return false;
    return true;
  });
  return o;
}

function objectMeta(buf: Buffer): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  const map = (key: string, b: Buffer) => {
    const [k, v] = mapEntry(b, text);
    m[key] = { ...(m[key] as object | undefined), [k]: v ?? '' };
  };
  message(buf, (f, _w, r) => {
    if (f === 1) m['name'] = r.string();
    else if (f === 2) m['generateName'] = r.string();
    else if (f === 3) m['namespace'] = r.string();
    else if (f === 5) m['uid'] = r.string();
    else if (f === 6) m['resourceVersion'] = r.string();
    else if (f === 7) m['generation'] = r.varint();
    else if (f === 8) m['creationTimestamp'] = time(r.bytes());
    else if (f === 11) map('labels', r.bytes());
    else if (f === 12) map('annotations', r.bytes());
    else if (f === 13) m['ownerReferences'] = [...((m['ownerReferences'] as unknown[] | undefined) ?? []), ownerReference(r.bytes())];
    else if (f === 14) m['finalizers'] = [...((m['finalizers'] as string[] | undefined) ?? []), r.string()];
    else return false;
    return true;
  });
  for (const k of ['name', 'generateName', 'namespace', 'uid', 'resourceVersion'] as const) if (m[k] === '') delete m[k];
  if (m['generation'] === 0) delete m['generation'];
  if (m['creationTimestamp'] === '1970-01-01T00:00:00Z') delete m['creationTimestamp'];
  return m;
}

/** Decoders of the raw object per kind: field numbers from k8s.io/api/core/v1/generated.proto. */
const KINDS: Record<string, (buf: Buffer) => Record<string, unknown>> = {
  Secret: (buf) => {
    const o: Record<string, unknown> = {};
    message(buf, (f, _w, r) => {
      if (f === 1) o['metadata'] = objectMeta(r.bytes());
      else if (f === 2) {
        const [k, v] = mapEntry(r.bytes(), base64);
        o['data'] = { ...(o['data'] as object | undefined), [k]: v ?? '' };
      } else if (f === 3) o['type'] = r.string();
      else if (f === 4) {
        const [k, v] = mapEntry(r.bytes(), text);
        o['stringData'] = { ...(o['stringData'] as object | undefined), [k]: v ?? '' };
      } else if (f === 5) o['immutable'] = r.varint() !== 0;
      else return false;
      return true;
    });
    return o;
  },
  ConfigMap: (buf) => {
    const o: Record<string, unknown> = {};
    message(buf, (f, _w, r) => {
      if (f === 1) o['metadata'] = objectMeta(r.bytes());
      else if (f === 2) {
        const [k, v] = mapEntry(r.bytes(), text);
        o['data'] = { ...(o['data'] as object | undefined), [k]: v ?? '' };
      } else if (f === 3) {
        const [k, v] = mapEntry(r.bytes(), base64);
        o['binaryData'] = { ...(o['binaryData'] as object | undefined), [k]: v ?? '' };
      } else if (f === 4) o['immutable'] = r.varint() !== 0;
      else return false;
      return true;
    });
    return o;
  },
  DeleteOptions: (buf) => {
    const o: Record<string, unknown> = {};
    message(buf, (f, _w, r) => {
      if (f === 1) o['gracePeriodSeconds'] = r.varint();
      else if (f === 2) {
        const pre: Record<string, string> = {};
        message(r.bytes(), (pf, _pw, pr) => {
          if (pf === 1) pre['uid'] = pr.string();
          else if (pf === 2) pre['resourceVersion'] = pr.string();
          else return false;
          return true;
        });
        o['preconditions'] = pre;
      } else if (f === 3) o['orphanDependents'] = r.varint() !== 0;
      else if (f === 4) o['propagationPolicy'] = r.string();
      else if (f === 5) o['dryRun'] = [...((o['dryRun'] as string[] | undefined) ?? []), r.string()];
      else return false;
      return true;
    });
    return o;
  },
  SelfSubjectAccessReview: (buf) => {
    const o: Record<string, unknown> = {};
    const strings = (b: Buffer, names: string[]) => {
      const out: Record<string, string> = {};
      message(b, (f, _w, r) => {
        const name = names[f - 1];
        if (!name) return false;
        out[name] = r.string();
        return true;
      });
      return out;
    };
    message(buf, (f, _w, r) => {
      if (f === 1) o['metadata'] = objectMeta(r.bytes());
      else if (f === 2) {
        const spec: Record<string, unknown> = {};
        message(r.bytes(), (sf, _sw, sr) => {
          if (sf === 1) spec['resourceAttributes'] = strings(sr.bytes(), ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name']);
          else if (sf === 2) spec['nonResourceAttributes'] = strings(sr.bytes(), ['path', 'verb']);
          else return false;
          return true;
        });
        o['spec'] = spec;
      } else return false;
      return true;
    });
    return o;
  },
  Namespace: (buf) => {
    const o: Record<string, unknown> = {};
    message(buf, (f, _w, r) => {
      if (f !== 1) return false;
      o['metadata'] = objectMeta(r.bytes());
      return true;
    });
    return o;
  },
};

/** Decodes a `k8s\0`-framed runtime.Unknown body into a JSON object, or answers 415 for kinds it lacks. */
export function decodeProtobuf(body: Buffer): Record<string, unknown> {
  const refuse = () => unsupportedMediaType(['application/json', 'application/yaml']);
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw refuse();
  let apiVersion = '';
  let kind = '';
  let raw: Buffer | undefined;
  try {
    message(body.subarray(4), (f, _w, r) => {
      if (f === 1) {
        message(r.bytes(), (tf, _tw, tr) => {
          if (tf === 1) apiVersion = tr.string();
          else if (tf === 2) kind = tr.string();
          else return false;
          return true;
        });
      } else if (f === 2) raw = r.bytes();
      else return false;
      return true;
    });
    const decode = KINDS[kind];
    const expected = kind === 'SelfSubjectAccessReview' ? 'authorization.k8s.io/v1' : 'v1';
    if (!decode || !raw || (apiVersion !== expected && kind !== 'DeleteOptions')) throw refuse();
    return { apiVersion, kind, ...decode(raw) };
  } catch (e) {
    if (e instanceof Error && e.name === 'ApiError') throw e;
    throw refuse();
  }
}
