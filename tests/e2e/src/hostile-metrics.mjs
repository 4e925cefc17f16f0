// A pod whose /metrics attacks its scraper (run by the simulator's process runner as a serving pod):
//   huge    - an endless body, written as fast as the reader takes it
//   trickle - headers, then one byte every 500 ms, forever
// Each scrape appends a line to $SCRAPE_LOG_DIR/<mode>, so a test can tell the endpoint was really read.
// The serving port answers the gRPC health check SERVING (the pod's readinessProbe), so the pod gets Ready.
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createH2cServer } from 'node:http2';
import { join } from 'node:path';

const mode = process.argv[2];
if (mode !== 'huge' && mode !== 'trickle') throw new Error(`usage: hostile-metrics.mjs huge|trickle (got ${mode})`);
const host = process.env.SIM_POD_IP ?? '127.0.0.1';
const port = Number(process.env.SIM_PORT_METRICS);
const logDir = process.env.SCRAPE_LOG_DIR;
const line = 'slmops_sidecar_requests_total{method="Generate",code="OK"} 1\n';
const chunk = Buffer.from(line.repeat(Math.ceil(65536 / line.length)));

createServer((req, res) => {
  if (req.url !== '/metrics') {
    res.writeHead(200).end('ok');
    return;
  }
  if (logDir) appendFileSync(join(logDir, mode), `${new Date().toISOString()}\n`);
  res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
  if (mode === 'huge') {
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  } else {
    const timer = setInterval(() => res.write('#'), 500);
    res.on('close', () => clearInterval(timer));
  }
}).listen(port, host);

// grpc.health.v1.Health/Check -> HealthCheckResponse{status: SERVING}: one length-prefixed message, grpc-status 0.
const health = createH2cServer();
health.on('stream', (stream) => {
  stream.resume();
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(Buffer.from([0, 0, 0, 0, 2, 0x08, 0x01]));
});
health.listen(Number(process.env.SIM_PORT_GRPC), host);
