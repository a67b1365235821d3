import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

// Compiled to out/test/unit/: the sources are three levels up.
const root = path.resolve(__dirname, '..', '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  main: string;
  contributes: { commands: { command: string }[] };
};
const extensionSource = fs.readFileSync(path.join(root, 'src', 'extension.ts'), 'utf8');

// Commands the server registers (docs/settings.md); vscode-languageclient registers each of them as
// a VS Code command too, so the extension's own commands must not reuse these ids.
const SERVER_COMMANDS = [
  'deepseekFim.accepted',
  'deepseekFim.setEnabled',
  'deepseekFim.stats',
  'deepseekFim.explain',
  'deepseekFim.rewrite',
  'deepseekFim.document',
  'deepseekFim.tests',
  'deepseekFim.fix',
];

describe('package.json commands', () => {
  const contributed = pkg.contributes.commands.map((c) => c.command);

  it('are all registered by the extension', () => {
    const registered = [...extensionSource.matchAll(/register\('([\w.]+)'/g)].map((m) => m[1]);
    assert.deepEqual([...contributed].sort(), [...registered].sort());
  });

  it('never collide with the server\'s command ids', () => {
    assert.deepEqual(contributed.filter((c) => SERVER_COMMANDS.includes(c)), []);
  });

  it('point main at the compiled extension', () => {
    assert.equal(pkg.main, './out/src/extension.js');
    assert.ok(fs.existsSync(path.join(root, pkg.main)), 'compile first');
  });
});
