import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { controllers } from '../controllers/index.ts';
import { renderRBACTemplate, rulesOf } from './chart.ts';
import { controllerPermissions, permissions } from './permissions.ts';

const chartDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../deploy/chart');

describe('the chart RBAC', () => {
  it('deploy/chart/templates/rbac.yaml is what npm run gen:chart-rbac writes', async () => {
    const committed = await readFile(resolve(chartDir, 'templates/rbac.yaml'), 'utf8');
    assert.equal(committed, renderRBACTemplate(), 'templates/rbac.yaml is stale: run npm run gen:chart-rbac');
  });

  it('grants no wildcard verb, resource or group', () => {
    for (const p of permissions) {
      for (const scope of ['cluster', 'namespace'] as const) {
        for (const rule of rulesOf(p.access, scope)) {
          for (const item of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) {
            assert.ok(!item.includes('*'), `${p.name}: wildcard in ${JSON.stringify(rule)}`);
          }
          assert.ok(rule.resources.every((r) => r.length > 0) && rule.verbs.length > 0, p.name);
        }
      }
    }
    assert.doesNotMatch(renderRBACTemplate(), /"\*"|\[\s*\*|\*\s*\]/);
  });

  it('declares every controller cluster-ipam run starts, under its own chart value', async () => {
    assert.deepEqual(
      controllerPermissions.map((p) => p.name),
      controllers.map((c) => c.name),
    );
    const values = parse(await readFile(resolve(chartDir, 'values.yaml'), 'utf8')) as {
      controllers: Record<string, boolean>;
    };
    assert.deepEqual(Object.keys(values.controllers).sort(), controllerPermissions.map((p) => p.key).sort());
  });

  it('keeps leader election and credentials Secrets to the release namespace, the rest cluster-wide', () => {
    const manager = permissions.find((p) => p.name === 'manager')!;
    assert.deepEqual(rulesOf(manager.access, 'namespace'), [
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);
    const secrets = { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] };
    for (const p of permissions.filter((p) => p.name !== 'manager')) {
      const namespaced = rulesOf(p.access, 'namespace');
      assert.ok(
        namespaced.length === 0 ||
          (p.name.startsWith('infoblox') && JSON.stringify(namespaced) === JSON.stringify([secrets])),
        p.name,
      );
      assert.ok(
        !rulesOf(p.access, 'cluster').some((r) => r.resources.includes('secrets')),
        `${p.name}: no Secret anywhere else`,
      );
    }
  });

  it('merges rules per group and verb set, with status and finalizers as subresources', () => {
    const kind = { group: 'g', plural: 'things' };
    const other = { group: 'g', plural: 'others' };
    assert.deepEqual(
      rulesOf(
        [
          { kind, verbs: ['watch', 'get', 'list'], status: ['patch'], finalizers: ['update'] },
          { kind: other, verbs: ['list', 'get', 'watch'], status: ['patch'] },
        ],
        'cluster',
      ),
      [
        { apiGroups: ['g'], resources: ['things', 'others'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['g'], resources: ['things/status', 'others/status'], verbs: ['patch'] },
        { apiGroups: ['g'], resources: ['things/finalizers'], verbs: ['update'] },
      ],
    );
  });
});
