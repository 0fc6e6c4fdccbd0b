import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { chooseInstance } from './infoblox.ts';

const none = { annotation: undefined, current: undefined, defaultInstance: undefined };

describe('chooseInstance', () => {
  it('takes the claim annotation first, and says when it names nothing', () => {
    assert.equal(chooseInstance({ ...none, annotation: 'b', defaultInstance: 'a', instances: ['a', 'b'] }).name, 'b');
    const missing = chooseInstance({ ...none, annotation: 'c', instances: ['a', 'b'] });
    assert.equal(missing.name, undefined);
    assert.equal(missing.reason, 'InfobloxInstanceNotFound');
    assert.match(
      missing.message,
      /InfobloxInstance c \(named by the annotation k0rdent.mirantis.com\/infoblox-instance\)/,
    );
  });

  it('keeps the instance an existing pool uses rather than moving it', () => {
    assert.equal(chooseInstance({ ...none, current: 'b', defaultInstance: 'a', instances: ['a', 'b'] }).name, 'b');
  });

  it("falls back to the manager's default, then to the only instance", () => {
    assert.equal(chooseInstance({ ...none, defaultInstance: 'a', instances: ['a', 'b'] }).name, 'a');
    assert.equal(
      chooseInstance({ ...none, defaultInstance: 'z', instances: ['a'] }).reason,
      'InfobloxInstanceNotFound',
    );
    assert.equal(chooseInstance({ ...none, instances: ['only'] }).name, 'only');
  });

  it('explains what to do when none or several exist', () => {
    const zero = chooseInstance({ ...none, instances: [] });
    assert.equal(zero.reason, 'NoInfobloxInstance');
    assert.match(zero.message, /^no InfobloxInstance exists: create one, or name one with the annotation/);
    const many = chooseInstance({ ...none, instances: ['b', 'a'] });
    assert.equal(many.reason, 'InfobloxInstanceAmbiguous');
    assert.match(many.message, /^2 InfobloxInstances exist \(a, b\)/);
  });
});
