/** The archive readers live with the tool download in @slmops/kube-tools; re-exported for tests. */
export { readZip, readTgzEntry, type ZipEntry } from '@slmops/kube-tools';
