/** Shared test setup: an emulator over HTTP, a client for it, and a small custom resource with a status subresource. */
import { KubeConfig } from '@kubernetes/client-node';
import { resources, startEmulator, type Emulator } from '@slmops/kube-emulator';
import { createKubeClient, type KubeClientOptions } from '../src/client.js';
import type { KubeClient, KubeObject, ResourceType } from '../src/port.js';

export const Widget: ResourceType = { apiVersion: 'test.slmops.io/v1', kind: 'Widget', plural: 'widgets', namespaced: true };

/** A CRD whose spec takes any fields, with a status subresource; CRD lists are atomic, as the fake's are. */
export const widgetCrd = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'widgets.test.slmops.io' },
  spec: {
    group: 'test.slmops.io',
    scope: 'Namespaced',
    names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        subresources: { status: {} },
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
              status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
            },
          },
        },
      },
    ],
  },
};

export const widget = (name: string, spec: Record<string, unknown> = { size: 1 }, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({
  apiVersion: Widget.apiVersion,
  kind: Widget.kind,
  metadata: { name, namespace: 'default', ...extra },
  spec,
});

export const configMap = (name: string, data: Record<string, string>, namespace = 'default'): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data });

export async function startWithCrd(): Promise<Emulator> {
  const emu = await startEmulator();
  emu.store.create(resources.customresourcedefinitions, undefined, widgetCrd);
  return emu;
}

export function kubeConfigFor(emu: Emulator): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(emu.kubeconfig);
  return kc;
}

export function clientFor(emu: Emulator, options: Partial<KubeClientOptions> = {}): KubeClient {
  return createKubeClient({ kubeConfig: kubeConfigFor(emu), ...options });
}

/** Polls `cond` every 10 ms; fails naming `what` after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The rejection of `p` (fails the test when it resolves). */
export async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** Lets pending promises and I/O callbacks run. */
export async function flush(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** A Clock whose time moves only in advance(), firing due timers in order. */
export class ManualClock {
  private t = Date.parse('2026-11-29T12:00:00Z');
  private id = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now = (): number => this.t;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.id;
    this.timers.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.timers.delete(handle as number);
  };

  /** Moves time forward by `ms`, running each timer at its due time and letting promises settle after it. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const due = [...this.timers].filter(([, x]) => x.at <= end).sort(([, a], [, b]) => a.at - b.at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
    await flush();
  }
}
