/** Builders for test manifests: a minimal valid SLMDeployment plus functional modifiers (cert-manager style). */
export type Manifest = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export const DIGEST = `sha256:${'ab'.repeat(32)}`;

export function aSLMDeployment(...mods: Array<(m: Manifest) => void>): Manifest {
  const m: Manifest = {
    apiVersion: 'slmops.io/v1alpha1',
    kind: 'SLMDeployment',
    metadata: { name: 'demo', namespace: 'default' },
    spec: {
      model: { name: 'stories260k', version: '1.0.0', source: { uri: 'https://models.example.com/m.slm.tar', digest: DIGEST } },
    },
  };
  for (const mod of mods) mod(m);
  return m;
}
