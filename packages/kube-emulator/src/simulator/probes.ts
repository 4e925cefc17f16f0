/**
 * Readiness probes run by the simulated kubelet against real local processes: HTTP GET (2xx/3xx passes),
 * TCP connect, and the gRPC health protocol (grpc.health.v1.Health/Check over h2c, SERVING passes), spoken
 * directly over node:http2 so the emulator needs no gRPC library. Every probe resolves to a boolean; it never
 * throws and always ends within its timeout.
 */
import { connect as h2connect } from 'node:http2';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';

export async function httpProbe(host: string, port: number, path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest({ host, port, path: path || '/', method: 'GET', timeout: timeoutMs, headers: { 'user-agent': 'kube-probe/1.33' } }, (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      resolve(code >= 200 && code < 400);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

export async function tcpProbe(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Encodes grpc.health.v1.HealthCheckRequest{service} as a length-prefixed gRPC message. */
export function encodeHealthCheckRequest(service: string): Buffer {
  const svc = Buffer.from(service, 'utf8');
  const body = svc.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(svc.length), svc]);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt8(0, 0);
  prefix.writeUInt32BE(body.length, 1);
  return Buffer.concat([prefix, body]);
}

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** Reads `status` (field 1, enum) from a length-prefixed HealthCheckResponse; 0 (UNKNOWN) when absent. */
export function decodeHealthCheckResponse(frame: Buffer): number {
  if (frame.length < 5) return -1;
  const len = frame.readUInt32BE(1);
  const body = frame.subarray(5, 5 + len);
  let i = 0;
  while (i < body.length) {
    const tag = body[i++] as number;
    const field = tag >> 3;
    const wire = tag & 7;
    if (wire !== 0) return -1;
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = body[i++];
      if (b === undefined) return -1;
      value |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    if (field === 1) return value;
  }
  return 0;
}

const SERVING = 1;

export async function grpcHealthProbe(host: string, port: number, service: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    let settled = false;
    const client = h2connect(`http://${host}:${port}`);
    const finish = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.close();
      client.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    client.on('error', () => finish(false));
    const req = client.request({
      ':method': 'POST',
      ':path': '/grpc.health.v1.Health/Check',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'kube-probe/1.33',
    });
    const chunks: Buffer[] = [];
    let headerStatus: string | undefined;
    req.on('response', (headers) => {
      const s = headers['grpc-status'];
      if (s !== undefined) headerStatus = String(s);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('trailers', (trailers) => {
      const s = trailers['grpc-status'];
      if (s !== undefined) headerStatus = String(s);
    });
    req.on('end', () => finish(headerStatus === '0' && decodeHealthCheckResponse(Buffer.concat(chunks)) === SERVING));
    req.on('error', () => finish(false));
    req.end(encodeHealthCheckRequest(service));
  });
}
