import type { HttpHandler } from '@slmops/metrics';
import type { InferenceService } from '../inference/service.js';

/** GET /healthz (the process answers) and /readyz (200 only while the model serves). */
export function probeHandler(service: InferenceService): HttpHandler {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return true;
    }
    if (path === '/readyz') {
      const ready = service.state === 'serving';
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${service.state}\n`);
      return true;
    }
    return false;
  };
}
