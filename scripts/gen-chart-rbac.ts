// Writes the Helm chart's RBAC template from src/rbac/permissions.ts. `npm run gen:chart-rbac`;
// src/rbac/chart.test.ts fails when the committed template is stale.
import { writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderRBACTemplate } from '../src/rbac/chart.ts';

const path = resolve(dirname(fileURLToPath(import.meta.url)), '../deploy/chart/templates/rbac.yaml');
await writeFile(path, renderRBACTemplate());
console.log(`wrote ${path}`);
