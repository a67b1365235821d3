import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { expandPath, missingServerMessage, resolveServer } from '../../src/server';

const env = { PATH: '/usr/local/bin:/home/u/.local/bin', HOME: '/home/u' };

describe('resolveServer', () => {
  it('finds the default command on PATH', () => {
    const exe = new Set(['/home/u/.local/bin/deepseek-fim-lsp']);
    const r = resolveServer(undefined, undefined, env, (f) => exe.has(f), 'linux');
    assert.deepEqual(r, { found: true, command: '/home/u/.local/bin/deepseek-fim-lsp', args: [] });
  });

  it('uses a configured path with ~ and keeps string args', () => {
    const exe = new Set(['/home/u/venv/bin/deepseek-fim-lsp']);
    const r = resolveServer('~/venv/bin/deepseek-fim-lsp', ['serve', 3, '--x'], env, (f) => exe.has(f), 'linux');
    assert.deepEqual(r, { found: true, command: '/home/u/venv/bin/deepseek-fim-lsp', args: ['serve', '--x'] });
  });

  it('explains how to install or configure when missing', () => {
    const r = resolveServer('', [], env, () => false, 'linux');
    assert.equal(r.found, false);
    if (!r.found) {
      assert.match(r.message, /pipx install deepseek-fim-lsp/);
      assert.match(r.message, /pip install -e/);
      assert.match(r.message, /deepseekFim\.serverPath/);
    }
  });

  it('does not search PATH for an explicit path', () => {
    const seen: string[] = [];
    resolveServer('/opt/x/deepseek-fim-lsp', [], env, (f) => (seen.push(f), false), 'linux');
    assert.deepEqual(seen, ['/opt/x/deepseek-fim-lsp']);
  });
});

describe('expandPath', () => {
  it('expands ${env:NAME} and ~', () => {
    assert.equal(expandPath('${env:HOME}/bin/x', env), '/home/u/bin/x');
    assert.equal(expandPath('~/x', env), '/home/u/x');
    assert.equal(expandPath('a~/x', env), 'a~/x');
  });
});

describe('missingServerMessage', () => {
  it('names the configured path when it is not the default', () => {
    assert.match(missingServerMessage('/opt/x'), /`\/opt\/x` \(setting deepseekFim\.serverPath\)/);
    assert.match(missingServerMessage('deepseek-fim-lsp'), /not found on PATH/);
  });
});
