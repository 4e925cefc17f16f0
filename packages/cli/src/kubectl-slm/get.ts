/** `kubectl slm get [name]`: SLMDeployments as a table, or -o json|yaml|wide|name. */
import { Resources } from '@slmops/kube';
import { UsageError, writeLine } from '../context.js';
import { getSlmd, type Subcommand } from './command.js';
import { objectName, serialize, type SlmdObject, slmdTable } from './printers.js';

export const getCommand: Subcommand = {
  summary: 'List SLMDeployments (or show one) with model, version, readiness and rollout phase',
  usage: 'kubectl slm get [NAME] [-n NS | -A] [-l selector] [-o json|yaml|wide|name]',
  options: { selector: { type: 'string', short: 'l', value: '<selector>', help: 'label selector, e.g. team=edge-ml' } },
  async run(session, positionals, values) {
    const [name, ...extra] = positionals;
    if (extra.length) throw new UsageError(`get takes at most one name, got ${positionals.length}`);
    const client = await session.client();
    const { ctx, output } = session;
    let items: SlmdObject[];
    if (name !== undefined) {
      if (session.allNamespaces) throw new UsageError('a resource cannot be retrieved by name across all namespaces');
      items = [await getSlmd(client, await session.namespace(), name)];
    } else {
      const namespace = session.allNamespaces ? undefined : await session.namespace();
      const selector = values['selector'] as string | undefined;
      const list = await client.list<SlmdObject>(Resources.SLMDeployment, { ...(namespace ? { namespace } : {}), ...(selector ? { labelSelector: selector } : {}) });
      items = list.items;
      if (items.length === 0 && (output === 'table' || output === 'wide')) {
        writeLine(ctx.stderr, namespace ? `No resources found in ${namespace} namespace.` : 'No resources found');
        return 0;
      }
    }
    if (output === 'json' || output === 'yaml') writeLine(ctx.stdout, serialize(name !== undefined ? items[0]! : items, output));
    else if (output === 'name') for (const o of items) writeLine(ctx.stdout, objectName(o));
    else writeLine(ctx.stdout, slmdTable(items, session.deps.now(), { wide: output === 'wide', withNamespace: session.allNamespaces }));
    return 0;
  },
};
