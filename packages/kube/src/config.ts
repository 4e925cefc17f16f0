/**
 * Finds and loads the kubeconfig the way kubectl does: an explicit file, else $KUBECONFIG, else the in-cluster
 * service account, else ~/.kube/config. Reads only the `env` it is given (no process.env at import or call time).
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
// The module that defines KubeConfig rather than the package index; it still loads client-node's whole generated
// client unless lean.ts's hooks are registered.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';

export interface LoadKubeConfigOptions {
  /** `--kubeconfig`: this file only; an error when it does not exist. */
  kubeconfig?: string;
  /** `--context`: the context to use instead of the file's current-context. */
  context?: string;
  /** Environment to read KUBECONFIG, HOME and KUBERNETES_SERVICE_HOST/PORT from. */
  env: Readonly<Record<string, string | undefined>>;
  /** Where the service account is mounted (default /var/run/secrets/kubernetes.io/serviceaccount). */
  serviceAccountDir?: string;
}

/** Where a kubeconfig came from, for log lines and error messages. */
export interface LoadedKubeConfig {
  kubeConfig: KubeConfig;
  /** `file <path>`, `KUBECONFIG <paths>`, `in-cluster` or `file ~/.kube/config`. */
  source: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

function fromFiles(files: string[]): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(files[0]!);
  for (const file of files.slice(1)) {
    const more = new KubeConfig();
    more.loadFromFile(file);
    // The first file wins for current-context, as in kubectl's merge rules.
    kc.mergeConfig(more, true);
  }
  return kc;
}

function inCluster(env: LoadKubeConfigOptions['env'], dir: string): KubeConfig | undefined {
  const host = env['KUBERNETES_SERVICE_HOST'];
  const port = env['KUBERNETES_SERVICE_PORT'];
  const tokenFile = join(dir, 'token');
  if (!host || !port || !existsSync(tokenFile)) return undefined;
  const namespaceFile = join(dir, 'namespace');
  const namespace = existsSync(namespaceFile) ? readFileSync(namespaceFile, 'utf8').trim() : undefined;
  const kc = new KubeConfig();
  // Same shape as client-node's loadFromCluster, built from `env` instead of process.env; the tokenFile auth
  // provider re-reads the projected token, so rotation works.
  kc.loadFromOptions({
    clusters: [{ name: 'inCluster', server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`, caFile: join(dir, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: 'inClusterUser', authProvider: { name: 'tokenFile', config: { tokenFile } } }],
    contexts: [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser', ...(namespace ? { namespace } : {}) }],
    currentContext: 'inClusterContext',
  });
  return kc;
}

/** Loads the kubeconfig and selects `context`; throws an Error naming the file or context that is missing. */
export function loadKubeConfigWithSource(options: LoadKubeConfigOptions): LoadedKubeConfig {
  const { env } = options;
  let loaded: LoadedKubeConfig | undefined;
  if (options.kubeconfig) {
    if (!existsSync(options.kubeconfig)) throw new Error(`kubeconfig file ${options.kubeconfig} (from --kubeconfig) does not exist`);
    loaded = { kubeConfig: fromFiles([options.kubeconfig]), source: `file ${options.kubeconfig}` };
  } else if (env['KUBECONFIG']) {
    const files = env['KUBECONFIG'].split(delimiter).filter((f) => f !== '');
    const present = files.filter((f) => existsSync(f));
    if (present.length === 0) throw new Error(`no kubeconfig file of KUBECONFIG=${env['KUBECONFIG']} exists`);
    loaded = { kubeConfig: fromFiles(present), source: `KUBECONFIG ${present.join(delimiter)}` };
  } else {
    const cluster = inCluster(env, options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
    if (cluster) loaded = { kubeConfig: cluster, source: 'in-cluster' };
    else {
      const home = env['HOME'] || homedir();
      const file = join(home, '.kube', 'config');
      if (!existsSync(file)) {
        throw new Error(`no kubeconfig found: pass --kubeconfig <file>, set KUBECONFIG, run in a cluster (KUBERNETES_SERVICE_HOST and a service account token), or create ${file}`);
      }
      loaded = { kubeConfig: fromFiles([file]), source: `file ${file}` };
    }
  }
  const kc = loaded.kubeConfig;
  if (options.context) {
    if (!kc.getContextObject(options.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new Error(`context "${options.context}" not found in kubeconfig (${loaded.source}); contexts: ${known.length > 0 ? known.join(', ') : 'none'}`);
    }
    kc.setCurrentContext(options.context);
  }
  const current = kc.getCurrentContext();
  if (!current || !kc.getContextObject(current)) throw new Error(`kubeconfig (${loaded.source}) has no current context${current ? ` ("${current}" is not defined)` : ''}; pass --context`);
  if (!kc.getCurrentCluster()) throw new Error(`context "${current}" of kubeconfig (${loaded.source}) names a cluster that is not defined`);
  return loaded;
}

/** `loadKubeConfigWithSource(options).kubeConfig`. */
export function loadKubeConfig(options: LoadKubeConfigOptions): KubeConfig {
  return loadKubeConfigWithSource(options).kubeConfig;
}
