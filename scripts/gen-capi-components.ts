// Renders the Cluster API provider packaging from the Helm chart: deploy/capi/ipam-components.yaml (what clusterctl
// and the Cluster API Operator's IPAMProvider install) and deploy/capi/metadata.yaml. `npm run gen:capi-components`;
// test/e2e/chart.test.ts fails when the committed files are stale.
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCAPIComponents } from '../src/local/capi-components.ts';

const outDir = resolve(dirname(fileURLToPath(import.meta.url)), '../deploy/capi');
const { components, metadata } = await renderCAPIComponents();
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, 'ipam-components.yaml'), components);
await writeFile(join(outDir, 'metadata.yaml'), metadata);
console.log(`wrote ${outDir}/ipam-components.yaml, metadata.yaml`);
