import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  answerConfiguration,
  buildServerSettings,
  mergeApiKey,
  needsRestart,
  SERVER_SETTING_KEYS,
} from '../../src/settings';

// The contributed settings in package.json must mirror what the server reads.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../../package.json') as {
  contributes: { configuration: { properties: Record<string, { default: unknown }> } };
};
const contributed = pkg.contributes.configuration.properties;

function getterFrom(values: Record<string, unknown>): (key: string) => unknown {
  return (key) => values[key];
}

describe('buildServerSettings', () => {
  it('forwards every server setting, with the contributed defaults', () => {
    const defaults: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(contributed)) {
      defaults[name.replace('deepseekFim.', '')] = schema.default;
    }
    const settings = buildServerSettings(getterFrom(defaults));
    assert.equal(settings.model, 'deepseek-v4-flash');
    assert.equal(settings.debounceMs, 150);
    assert.equal(settings.multiline, 'auto');
    assert.deepEqual(settings.prices, { cacheHit: 0.003, cacheMiss: 0.15, output: 0.6, peakMultiplier: 2.0 });
    // baseUrl defaults to "" = let the server use DEEPSEEK_BASE_URL or its own default.
    assert.equal('baseUrl' in settings, false);
    assert.deepEqual(
      Object.keys(settings).sort(),
      SERVER_SETTING_KEYS.filter((k) => k !== 'baseUrl').slice().sort(),
    );
  });

  it('contributes a setting for every server key and no apiKey setting', () => {
    for (const key of SERVER_SETTING_KEYS) {
      assert.ok(`deepseekFim.${key}` in contributed, `missing contribution for ${key}`);
    }
    assert.equal('deepseekFim.apiKey' in contributed, false);
  });

  it('keeps client-only keys and a stray apiKey from settings.json out', () => {
    const settings = buildServerSettings(
      getterFrom({
        serverPath: '/opt/bin/deepseek-fim-lsp',
        serverArgs: ['--verbose'],
        apiKey: 'sk-test-from-settings-json',
        baseUrl: 'http://127.0.0.1:9999',
        debounceMs: 20,
      }),
    );
    assert.deepEqual(settings, { baseUrl: 'http://127.0.0.1:9999', debounceMs: 20 });
  });

  it('sends user values unchanged, as plain copies', () => {
    const exclude = ['**/*.secret', '!**/.env'];
    const settings = buildServerSettings(getterFrom({ exclude, enabled: false, temperature: 0.4 }));
    assert.deepEqual(settings, { exclude, enabled: false, temperature: 0.4 });
    assert.notEqual(settings.exclude, exclude);
  });

  it('merges the key from secret storage', () => {
    const settings = buildServerSettings(getterFrom({ debounceMs: 10 }), 'sk-test-abc');
    assert.deepEqual(settings, { debounceMs: 10, apiKey: 'sk-test-abc' });
  });
});

describe('mergeApiKey', () => {
  it('adds a trimmed key', () => {
    assert.deepEqual(mergeApiKey({ a: 1 }, '  sk-test-1 \n'), { a: 1, apiKey: 'sk-test-1' });
  });

  it('sends no apiKey when none is stored, so DEEPSEEK_API_KEY still works', () => {
    assert.deepEqual(mergeApiKey({ a: 1 }, undefined), { a: 1 });
    assert.deepEqual(mergeApiKey({ a: 1 }, ''), { a: 1 });
    assert.deepEqual(mergeApiKey({ a: 1 }, '   '), { a: 1 });
  });

  it('replaces an apiKey already present and does not mutate its input', () => {
    const input = { apiKey: 'sk-test-old', a: 1 };
    assert.deepEqual(mergeApiKey(input, undefined), { a: 1 });
    assert.deepEqual(mergeApiKey(input, 'sk-test-new'), { a: 1, apiKey: 'sk-test-new' });
    assert.deepEqual(input, { apiKey: 'sk-test-old', a: 1 });
  });
});

describe('answerConfiguration', () => {
  it('answers our section with the merged settings and keeps the others', () => {
    const settings = { debounceMs: 5, apiKey: 'sk-test-k' };
    const answer = answerConfiguration(
      [{ section: 'editor' }, { section: 'deepseekFim' }, {}],
      [{ tabSize: 4 }, { raw: true }, null],
      settings,
    );
    assert.deepEqual(answer, [{ tabSize: 4 }, settings, null]);
  });

  it('does not treat a sub-section as ours', () => {
    const answer = answerConfiguration([{ section: 'deepseekFim.model' }], ['x'], { model: 'm' });
    assert.deepEqual(answer, ['x']);
  });
});

describe('needsRestart', () => {
  it('restarts for serverPath / serverArgs changes only', () => {
    assert.equal(needsRestart((k) => k === 'deepseekFim.serverPath'), true);
    assert.equal(needsRestart((k) => k === 'deepseekFim.serverArgs'), true);
    assert.equal(needsRestart((k) => k === 'deepseekFim.debounceMs'), false);
  });
});
