/**
 * `slmops-kube-emulator`: runs the emulator and the fleet simulator standalone, for trying the operator and
 * kubectl by hand. The composition root of the command: flags in, emulator + simulator out, until a signal.
 */
import { resolve } from 'node:path';
import { slmDeploymentCRD } from '@slmops/api';
import { startEmulator, type Emulator } from './server/emulator.js';
import { resources } from './server/store.js';
import { Simulator } from './simulator/index.js';

export interface CommandOptions {
  port: number;
  host: string;
  nodes: number;
  seed: number;
  kubeconfigOut?: string;
  installCrd: boolean;
}

export const USAGE = `Usage: slmops-kube-emulator [options]

Runs a test-only Kubernetes API server with a simulated node fleet (controllers and kubelets included).

Options:
  --port <n>             port to listen on (default 0: any free port)
  --host <addr>          interface to listen on (default 127.0.0.1)
  --nodes <n>            simulated nodes of mixed hardware (default 10)
  --seed <n>             fleet seed: same seed, same fleet (default 1)
  --kubeconfig-out <p>   write the kubeconfig here (default: a temporary file, printed)
  --no-crd               do not install the SLMDeployment CRD
  -h, --help             show this help
`;

/** Parses the command line; throws an Error naming the flag on bad input. */
export function parseArgs(argv: readonly string[]): CommandOptions | 'help' {
  const opts: CommandOptions = { port: 0, host: '127.0.0.1', nodes: 10, seed: 1, installCrd: true };
  const int = (flag: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (v === undefined || !Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer >= ${min}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '-h':
      case '--help':
        return 'help';
      case '--port':
        opts.port = int(flag, value(), 0);
        break;
      case '--host':
        opts.host = value() ?? '';
        if (!opts.host) throw new Error('--host needs an address');
        break;
      case '--nodes':
        opts.nodes = int(flag, value(), 0);
        break;
      case '--seed':
        opts.seed = int(flag, value(), 0);
        break;
      case '--kubeconfig-out': {
        const p = value();
        if (!p) throw new Error('--kubeconfig-out needs a path');
        opts.kubeconfigOut = p;
        break;
      }
      case '--no-crd':
        opts.installCrd = false;
        break;
      default:
        throw new Error(`unknown option ${JSON.stringify(arg)}\n\n${USAGE}`);
    }
  }
  return opts;
}

export interface Io {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  cwd: string;
}

export interface Running {
  emulator: Emulator;
  simulator: Simulator;
  stop(): Promise<void>;
}

/** Starts the emulator (with the CRD) and a simulator with `nodes` nodes; resolves once both run. */
export async function run(opts: CommandOptions, io: Io): Promise<Running> {
  const emulator = await startEmulator({ port: opts.port, host: opts.host, ...(opts.kubeconfigOut ? { kubeconfigPath: resolve(io.cwd, opts.kubeconfigOut) } : {}) });
  if (opts.installCrd) emulator.store.create(resources.customresourcedefinitions, undefined, slmDeploymentCRD(), { client: 'slmops-kube-emulator' });
  const simulator = new Simulator({ store: emulator.store });
  await simulator.start();
  if (opts.nodes > 0) simulator.addFleet({ nodes: opts.nodes, seed: opts.seed });
  await simulator.settle();
  io.stdout.write(`kube-emulator listening on ${emulator.url} with ${opts.nodes} simulated nodes\nkubeconfig: ${emulator.kubeconfigPath}\n  export KUBECONFIG=${emulator.kubeconfigPath}\n  kubectl get nodes\n`);
  return {
    emulator,
    simulator,
    async stop() {
      await simulator.stop();
      await emulator.close();
    },
  };
}

/** The command: runs until SIGINT/SIGTERM; returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  let opts: CommandOptions | 'help';
  try {
    opts = parseArgs(argv);
  } catch (e) {
    io.stderr.write(`slmops-kube-emulator: ${(e as Error).message}\n`);
    return 2;
  }
  if (opts === 'help') {
    io.stdout.write(USAGE);
    return 0;
  }
  const running = await run(opts, io);
  await new Promise<void>((resolveStop) => {
    const stop = () => resolveStop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.stdout.write('stopping\n');
  await running.stop();
  return 0;
}
