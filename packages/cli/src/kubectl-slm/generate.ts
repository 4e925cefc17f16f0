/**
 * `kubectl slm generate <slmd> --prompt …`: streams a completion from one Ready pod of the deployment, over a
 * pods/portforward tunnel through the API server (the API server's proxy carries no gRPC), or with `--direct`
 * straight to the pod IP.
 */
import { Resources } from '@slmops/kube';
import type { RemoteGenerateRequest } from '@slmops/sidecar';
import { UsageError, writeLine } from '../context.js';
import { numberFlag } from '../flags.js';
import { getSlmd, type Subcommand } from './command.js';
import { hostPort, isServing, type PodObject, podPort, podSelector } from './pods.js';

/** Container port names the operator gives the sidecar's gRPC and metrics ports. */
export const GRPC_PORT_NAME = 'grpc';
export const METRICS_PORT_NAME = 'metrics';

/** Longest wait for the API server to open each port-forward WebSocket. */
export const PORT_FORWARD_HANDSHAKE_MS = 10_000;

/** The pod to send to: the one named by --pod, else the first serving pod by name (stable across runs). */
export function choosePod(pods: readonly PodObject[], wanted?: string): PodObject | undefined {
  const serving = pods.filter(isServing).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  return wanted ? serving.find((p) => p.metadata.name === wanted) : serving[0];
}

export const generateCommand: Subcommand = {
  summary: 'Generate text on one Ready pod of an SLMDeployment (streams tokens to stdout)',
  usage:
    'kubectl slm generate NAME --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--stop TEXT]... [--pod POD] [--json] [--direct] [-n NS]',
  options: {
    prompt: { type: 'string', short: 'p', value: '<text>', help: 'the text to continue (required)' },
    'max-tokens': { type: 'string', default: '64', value: '<n>', help: 'most tokens to generate' },
    temperature: { type: 'string', value: '<t>', shownDefault: "the deployment's spec.serving.generationDefaults", help: 'sampling temperature (0 = greedy)' },
    'top-k': { type: 'string', value: '<k>', shownDefault: "the deployment's", help: 'sample from the k most likely tokens' },
    'top-p': { type: 'string', value: '<p>', shownDefault: "the deployment's", help: 'nucleus sampling threshold' },
    seed: { type: 'string', value: '<n>', shownDefault: 'random', help: 'sampling seed' },
    stop: { type: 'string', multiple: true, value: '<text>', help: 'stop when the output ends with this text' },
    pod: { type: 'string', value: '<pod>', shownDefault: 'the first Ready pod by name', help: 'generate on this pod' },
    json: { type: 'boolean', default: false, help: 'print one JSON object at the end instead of streaming' },
    direct: { type: 'boolean', default: false, help: "dial the pod's IP instead of tunnelling through the API server's pods/portforward (inside the cluster network only)" },
  },
  async run(session, positionals, values) {
    if (positionals.length !== 1) throw new UsageError('generate needs exactly one SLMDeployment name');
    const prompt = values['prompt'] as string | undefined;
    if (prompt === undefined) throw new UsageError('--prompt is required');
    const opt = (key: string, v: number | undefined) => (v === undefined ? {} : { [key]: v });
    const request: RemoteGenerateRequest = {
      prompt,
      max_tokens: numberFlag('max-tokens', values['max-tokens'] as string, { int: true, min: 1 })!,
      ...opt('temperature', numberFlag('temperature', values['temperature'] as string | undefined, { min: 0 })),
      ...opt('top_k', numberFlag('top-k', values['top-k'] as string | undefined, { int: true, min: 0 })),
      ...opt('top_p', numberFlag('top-p', values['top-p'] as string | undefined)),
      ...opt('seed', numberFlag('seed', values['seed'] as string | undefined, { int: true, min: 0 })),
      ...((values['stop'] as string[] | undefined) ? { stop: values['stop'] as string[] } : {}),
      // Text for a terminal: several tokens per message cost the pod's sidecar less.
      coalesce_tokens: true,
    };
    const name = positionals[0]!;
    const client = await session.client();
    const namespace = await session.namespace();
    const slmd = await getSlmd(client, namespace, name);
    const pods = await client.list<PodObject>(Resources.Pod, { namespace, labelSelector: podSelector(name) });
    const wanted = values['pod'] as string | undefined;
    const pod = choosePod(pods.items, wanted);
    if (!pod) {
      throw new Error(
        wanted
          ? `pod "${wanted}" is not a Ready pod of slmdeployment "${name}" in namespace "${namespace}"`
          : `slmdeployment "${name}" in namespace "${namespace}" has no Ready pods (${pods.items.length} pods found)`,
      );
    }
    const port = podPort(pod, GRPC_PORT_NAME, slmd.spec.serving?.port);
    if (port === undefined) throw new Error(`pod "${pod.metadata.name}" has no container port named "${GRPC_PORT_NAME}" and spec.serving.port is not set`);
    const direct = values['direct'] === true;
    const tunnel = direct ? undefined : await (await session.pods()).forward(namespace, pod.metadata.name, port, PORT_FORWARD_HANDSHAKE_MS);
    const address = tunnel ? tunnel.address : hostPort(pod.status!.podIP!, port);
    // Only the pod and address go to stderr: the prompt and the completion never reach a log.
    writeLine(session.ctx.stderr, tunnel ? `generating on pod ${pod.metadata.name} (port ${port}, forwarded to ${address})` : `generating on pod ${pod.metadata.name} (${address})`);
    let text = '';
    let tokens = 0;
    try {
      // Loaded here so `kubectl slm get` and friends never load the gRPC client.
      const { generateRemote } = await import('@slmops/sidecar');
      for await (const ev of generateRemote(address, request)) {
        if (ev.type === 'token' || ev.type === 'tokens') {
          tokens += ev.type === 'tokens' ? ev.ids.length : 1;
          if (values['json']) text += ev.text;
          else session.ctx.stdout.write(ev.text);
        } else if (values['json']) {
          writeLine(session.ctx.stdout, JSON.stringify({ pod: pod.metadata.name, text, tokens, finishReason: ev.finishReason, promptTokens: ev.promptTokens, completionTokens: ev.completionTokens }));
        } else writeLine(session.ctx.stdout);
      }
    } catch (e) {
      // What the tunnel saw (the API server's refusal, the pod's port closed) says more than gRPC's view of it.
      const why = tunnel?.lastError();
      throw why ? new Error(`port-forward to pod "${pod.metadata.name}" port ${port}: ${why}`, { cause: e }) : e;
    } finally {
      await tunnel?.close();
    }
    return 0;
  },
};
