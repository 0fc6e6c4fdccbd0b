// What the real API server answers when a write is guarded by a uid (or a resourceVersion) that no longer matches:
// the status codes differ per verb, and isUIDMismatch tells a replaced object from a merely stale one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ConfigMaps,
  KubeClient,
  isConflict,
  isInvalid,
  isNotFound,
  isUIDMismatch,
  type ApiError,
  type ConfigMap,
} from '../../src/kube/index.ts';
import { setFields } from '../../src/runtime/index.ts';
import { testKubeconfig, testNamespace } from '../support/cluster.ts';

let client: KubeClient;
let namespace: string;
let cm: ConfigMap;
const otherUID = '00000000-0000-0000-0000-000000000000';

before(async () => {
  client = KubeClient.load({ kubeconfig: await testKubeconfig() });
  namespace = await testNamespace('kube-preconditions');
  cm = await client.resource(ConfigMaps).create({ metadata: { namespace, name: 'guarded' }, data: { v: '1' } });
});

after(() => client.close());

async function failure(write: Promise<unknown>): Promise<ApiError> {
  return write.then(
    () => assert.fail('the write went through'),
    (err: ApiError) => err,
  );
}

describe('uid and resourceVersion guards on kube-apiserver', () => {
  const key = () => ({ namespace, name: 'guarded' });

  it('DELETE with preconditions.uid of another object: 409 Conflict, a uid mismatch', async () => {
    const err = await failure(client.resource(ConfigMaps).delete(key(), { preconditions: { uid: otherUID } }));
    assert.equal(err.statusCode, 409);
    assert.ok(isConflict(err));
    assert.ok(isUIDMismatch(err), err.message);
  });

  it('PUT with metadata.uid of another object: 409 Conflict, a uid mismatch', async () => {
    const err = await failure(
      client.resource(ConfigMaps).update({ ...cm, metadata: { ...cm.metadata, uid: otherUID } }),
    );
    assert.equal(err.statusCode, 409);
    assert.ok(isUIDMismatch(err), err.message);
  });

  it('PATCH with metadata.uid of another object: 422 Invalid (not 409), a uid mismatch', async () => {
    const err = await failure(client.resource(ConfigMaps).patch(key(), { metadata: { uid: otherUID }, data: {} }));
    assert.equal(err.statusCode, 422);
    assert.ok(isInvalid(err));
    assert.equal(isConflict(err), false);
    assert.ok(isUIDMismatch(err), err.message);
  });

  it('a stale resourceVersion is a Conflict but no uid mismatch; neither is a missing object', async () => {
    const stale = { resourceVersion: '1' };
    for (const write of [
      client.resource(ConfigMaps).delete(key(), { preconditions: stale }),
      client.resource(ConfigMaps).patch(key(), { metadata: stale, data: { v: '2' } }),
    ]) {
      const err = await failure(write);
      assert.ok(isConflict(err), err.message);
      assert.equal(isUIDMismatch(err), false, err.message);
    }
    const gone = await failure(
      client.resource(ConfigMaps).delete({ namespace, name: 'missing' }, { preconditions: { uid: otherUID } }),
    );
    assert.ok(isNotFound(gone));
    assert.equal(isUIDMismatch(gone), false);
    // The object is untouched by all of the above.
    const now = await client.resource(ConfigMaps).get(key());
    assert.equal(now.metadata.uid, cm.metadata.uid);
    assert.deepEqual(now.data, { v: '1' });
  });
});

describe('setFields on kube-apiserver', () => {
  it('sets whole fields and removes others, guarded by the resourceVersion read; nothing else is written', async () => {
    const cms = client.resource(ConfigMaps);
    const read = await cms.create({
      metadata: { namespace, name: 'fields', labels: { theirs: 'kept' } },
      data: { a: '1', b: '2' },
    });
    // What a cache holding less than the object (no labels) would hand out: its absence writes nothing.
    const cached = { ...read, metadata: { ...read.metadata, labels: undefined } };
    const written = await setFields(cms, cached, { '/data': { c: '3' }, '/binaryData': undefined });
    assert.deepEqual(written.data, { c: '3' }, 'the field replaced as a whole');
    assert.deepEqual(written.metadata.labels, { theirs: 'kept' });
    const stale = await failure(setFields(cms, read, { '/data': { d: '4' } }));
    assert.ok(isConflict(stale), stale.message);
    assert.deepEqual((await cms.get({ namespace, name: 'fields' })).data, { c: '3' });
    const removed = await setFields(cms, written, { '/data': undefined });
    assert.equal(removed.data, undefined);
  });
});
