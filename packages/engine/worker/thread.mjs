// Entry of a threaded engine's worker thread (see src/thread/host.ts). Plain JavaScript importing the built package,
// so it runs the same whether the host was loaded from src/ or dist/.
import { parentPort, workerData } from 'node:worker_threads';
import { serveEngineThread } from '../dist/index.js';

await serveEngineThread(parentPort, workerData);
