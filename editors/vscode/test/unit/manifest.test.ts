import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

// Compiled to out/test/unit/: the sources are three levels up.
const root = path.resolve(__dirname, '..', '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  main: string;
  contributes: { commands: { command: string }[] };
  scripts: Record<string, string>;
  repository?: string | { url?: string };
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

describe('package.json packaging', () => {
  it('compiles on `vsce package` alone (vscode:prepublish)', () => {
    const prepublish = pkg.scripts['vscode:prepublish'];
    assert.ok(prepublish, 'no vscode:prepublish script');
    // It must end up running tsc on this project (directly or through the compile script).
    const resolved = prepublish.replace(/npm run (\S+)/g, (_m, name: string) => pkg.scripts[name] ?? '');
    assert.match(resolved, /\btsc -p \.\/?/);
  });

  it('has a real repository or none', () => {
    const repo = pkg.repository;
    if (repo !== undefined) {
      const url = typeof repo === 'string' ? repo : repo.url ?? '';
      assert.doesNotMatch(url, /example\.(invalid|com|org)|localhost/);
      assert.match(url, /^(https:\/\/|git@|github:|gitlab:)/);
    }
    // Without one, `vsce package` asks to confirm; the package script says yes up front.
    if (repo === undefined) {
      assert.match(pkg.scripts.package, /--allow-missing-repository/);
    }
  });
});
