// A tiny stand-in serving process for the simulator's process-runner tests: HTTP on $SIM_PORT_8080 with
// /healthz (200, or 503 after POST /fail), /metrics (a counter of /work requests) and /env (its SIM_* env);
// and a gRPC health service (grpc.health.v1.Health/Check over h2c) on $SIM_PORT_9000 when that is set.
import { createServer } from 'node:http';
import { createServer as createH2 } from 'node:http2';

let healthy = process.env.START_UNHEALTHY !== '1';
let work = 0;
const http = createServer((req, res) => {
  if (req.url === '/healthz') {
    res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok' : 'failing');
  } else if (req.url === '/fail' && req.method === 'POST') {
    healthy = false;
    res.writeHead(200).end('now failing');
  } else if (req.url === '/recover' && req.method === 'POST') {
    healthy = true;
    res.writeHead(200).end('recovered');
  } else if (req.url === '/work') {
    work++;
    res.writeHead(200).end('done');
  } else if (req.url === '/metrics') {
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`# TYPE fixture_work_total counter\nfixture_work_total ${work}\n`);
  } else if (req.url === '/env') {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SIM_') || k === 'PORT' || k === 'MODEL'));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(env));
  } else {
    res.writeHead(404).end();
  }
});
http.listen(Number(process.env.SIM_PORT_8080), process.env.SIM_POD_IP ?? '127.0.0.1');

if (process.env.SIM_PORT_9000) {
  const h2 = createH2();
  h2.on('stream', (stream, headers) => {
    if (headers[':path'] !== '/grpc.health.v1.Health/Check') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true });
      return;
    }
    stream.on('data', () => {});
    stream.on('end', () => {
      // HealthCheckResponse{status: SERVING(1) | NOT_SERVING(2)}, length-prefixed.
      const body = Buffer.from([0x08, healthy ? 1 : 2]);
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(body.length, 1);
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(Buffer.concat([prefix, body]));
    });
  });
  h2.listen(Number(process.env.SIM_PORT_9000), process.env.SIM_POD_IP ?? '127.0.0.1');
}

process.on('SIGTERM', () => process.exit(0));
