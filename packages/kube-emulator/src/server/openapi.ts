/**
 * OpenAPI v3 documents, one per group/version, with what kubectl reads from them: PATCH operations carrying
 * `x-kubernetes-group-version-kind` and the `fieldValidation` parameter (so it leaves validation to the server),
 * and component schemas from CRDs for `kubectl explain`.
 */
import { createHash } from 'node:crypto';
import type { JSONSchemaProps } from '@slmops/api';
import type { Registry, ResourceType } from './registry.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';

const objectMeta: JSONSchemaProps = {
  type: 'object',
  description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
  properties: {
    name: { type: 'string', description: 'Name must be unique within a namespace.' },
    generateName: { type: 'string', description: 'GenerateName is an optional prefix, used by the server, to generate a unique name.' },
    namespace: { type: 'string', description: 'Namespace defines the space within which each name must be unique.' },
    uid: { type: 'string', description: 'UID is the unique in time and space value for this object.' },
    resourceVersion: { type: 'string', description: 'An opaque value that represents the internal version of this object.' },
    generation: { type: 'integer', format: 'int64', description: 'A sequence number representing a specific generation of the desired state.' },
    creationTimestamp: { type: 'string', format: 'date-time', description: 'CreationTimestamp is a timestamp representing the server time when this object was created.' },
    deletionTimestamp: { type: 'string', format: 'date-time', description: 'DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted.' },
    labels: { type: 'object', additionalProperties: { type: 'string' }, description: 'Map of string keys and values that can be used to organize and categorize objects.' },
    annotations: { type: 'object', additionalProperties: { type: 'string' }, description: 'Annotations is an unstructured key value map stored with a resource.' },
    finalizers: { type: 'array', items: { type: 'string' }, description: 'Must be empty before the object is deleted from the registry.' },
    ownerReferences: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, description: 'List of objects depended by this object.' },
  },
};

/** `io.slmops.v1alpha1.SLMDeployment`: the group reversed, as the API server names CRD schemas. */
export function schemaName(t: ResourceType, kind = t.kind): string {
  const group = t.group ? t.group.split('.').reverse().join('.') : 'io.k8s.api.core';
  const prefix = t.custom ? group : t.group ? `io.k8s.api.${t.group.split('.')[0]}` : group;
  return `${prefix}.${t.version}.${kind}`;
}

const param = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: name === 'force' ? 'boolean' : 'string', uniqueItems: true } });

const PATCH_PARAMS = [
  param('dryRun', 'When present, indicates that modifications should not be persisted.'),
  param('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  param('fieldValidation', 'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.'),
  param('force', 'Force is going to "force" Apply requests.'),
];

function resourceSchema(t: ResourceType): JSONSchemaProps & Record<string, unknown> {
  const base: JSONSchemaProps = t.schema ?? {
    type: 'object',
    description: `${t.kind} (built-in kind; the emulator does not publish its full schema).`,
    properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
  };
  const properties: Record<string, unknown> = {
    ...base.properties,
    apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
    kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
    metadata: { description: 'Standard object metadata.', allOf: [{ $ref: `#/components/schemas/${META}.ObjectMeta` }] },
  };
  return { ...base, properties: properties as Record<string, JSONSchemaProps>, 'x-kubernetes-group-version-kind': [{ group: t.group, version: t.version, kind: t.kind }] };
}

function pathsFor(t: ResourceType) {
  const prefix = t.group ? `/apis/${t.group}/${t.version}` : `/api/${t.version}`;
  const collection = t.namespaced ? `${prefix}/namespaces/{namespace}/${t.resource}` : `${prefix}/${t.resource}`;
  const gvk = { group: t.group, version: t.version, kind: t.kind };
  const ref = { $ref: `#/components/schemas/${schemaName(t)}` };
  const body = (types: string[]) => ({ content: Object.fromEntries(types.map((c) => [c, { schema: { type: 'object' } }])) });
  const ok = { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } };
  const patchTypes = ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'];
  const item = {
    get: { operationId: `read${t.kind}`, 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvk, responses: ok },
    put: { operationId: `replace${t.kind}`, 'x-kubernetes-action': 'put', 'x-kubernetes-group-version-kind': gvk, parameters: PATCH_PARAMS.slice(0, 3), requestBody: { content: { 'application/json': { schema: ref } } }, responses: ok },
    delete: { operationId: `delete${t.kind}`, 'x-kubernetes-action': 'delete', 'x-kubernetes-group-version-kind': gvk, responses: ok },
    patch: { operationId: `patch${t.kind}`, 'x-kubernetes-action': 'patch', 'x-kubernetes-group-version-kind': gvk, parameters: PATCH_PARAMS, requestBody: body(patchTypes), responses: ok },
  };
  const list = {
    get: { operationId: `list${t.kind}`, 'x-kubernetes-action': 'list', 'x-kubernetes-group-version-kind': gvk, responses: { '200': { description: 'OK' } } },
    post: { operationId: `create${t.kind}`, 'x-kubernetes-action': 'post', 'x-kubernetes-group-version-kind': gvk, parameters: PATCH_PARAMS.slice(0, 3), requestBody: { content: { 'application/json': { schema: ref } } }, responses: ok },
  };
  const paths: Record<string, unknown> = { [collection]: list, [`${collection}/{name}`]: item };
  if (t.status) paths[`${collection}/{name}/status`] = item;
  return paths;
}

/** The per-group-version document (`/openapi/v3/apis/{group}/{version}`). */
export function groupVersionDocument(types: ResourceType[]) {
  const schemas: Record<string, unknown> = { [`${META}.ObjectMeta`]: objectMeta };
  let paths: Record<string, unknown> = {};
  for (const t of types) {
    schemas[schemaName(t)] = resourceSchema(t);
    schemas[schemaName(t, t.listKind)] = {
      type: 'object',
      description: `${t.listKind} is a list of ${t.kind}`,
      required: ['items'],
      properties: { apiVersion: { type: 'string' }, items: { type: 'array', items: { $ref: `#/components/schemas/${schemaName(t)}` } }, kind: { type: 'string' }, metadata: { type: 'object' } },
      'x-kubernetes-group-version-kind': [{ group: t.group, version: t.version, kind: t.listKind }],
    };
    paths = { ...paths, ...pathsFor(t) };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.33.1' }, paths, components: { schemas } };
}

/** Serves `/openapi/v3` and its per-group-version documents, rebuilt (with new hashes) when CRDs change. */
export class OpenApi {
  private docs: Map<string, { text: string; hash: string }> | undefined;

  constructor(private readonly registry: Registry) {
    registry.onChange(() => (this.docs = undefined));
  }

  private build(): Map<string, { text: string; hash: string }> {
    const byGv = new Map<string, ResourceType[]>();
    for (const t of this.registry.all()) {
      const key = t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`;
      byGv.set(key, [...(byGv.get(key) ?? []), t]);
    }
    const docs = new Map<string, { text: string; hash: string }>();
    for (const [key, types] of byGv) {
      const text = JSON.stringify(groupVersionDocument(types));
      docs.set(key, { text, hash: createHash('sha512').update(text).digest('hex').toUpperCase() });
    }
    return docs;
  }

  index(): string {
    this.docs ??= this.build();
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const [key, { hash }] of this.docs) paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` };
    return JSON.stringify({ paths });
  }

  /** The document text for `api/v1` or `apis/{group}/{version}`, or undefined. */
  document(key: string): string | undefined {
    this.docs ??= this.build();
    return this.docs.get(key)?.text;
  }
}
