import type { HttpHandler } from '@slmops/metrics';
import type { InferenceService } from '../inference/service.js';

/** GET /healthz (the process answers) and /readyz (200 only while the model serves; the body says the state and,
 *  while loading, `detail()`, e.g. why a download is being retried). */
export function probeHandler(service: InferenceService, detail: () => string | undefined = () => undefined): HttpHandler {
  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return true;
    }
    if (path === '/readyz') {
      const ready = service.state === 'serving';
      const why = service.state === 'loading' ? detail() : undefined;
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${service.state}${why ? `: ${why}` : ''}\n`);
      return true;
    }
    return false;
  };
}
