import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { appliesTo, parseStatus, statusView } from '../../src/status';

describe('parseStatus', () => {
  it('accepts the documented shape', () => {
    assert.deepEqual(parseStatus({ state: 'busy', message: 'Asking', uri: 'file:///a.py' }), {
      state: 'busy',
      message: 'Asking',
      uri: 'file:///a.py',
    });
  });

  it('fills in a missing message and uri', () => {
    assert.deepEqual(parseStatus({ state: 'ready' }), { state: 'ready', message: '', uri: null });
  });

  it('rejects unknown states and non-objects', () => {
    assert.equal(parseStatus({ state: 'exploded', message: '' }), undefined);
    assert.equal(parseStatus(null), undefined);
    assert.equal(parseStatus('ready'), undefined);
  });
});

describe('statusView', () => {
  it('uses a distinct codicon per state', () => {
    const states = ['ready', 'busy', 'error', 'inactive', 'disabled', 'starting', 'stopped'] as const;
    const icons = states.map((s) => /^\$\([a-z~-]+\)/.exec(statusView(s).text)?.[0]);
    assert.equal(new Set(icons).size, states.length);
    assert.equal(statusView('busy').text, '$(loading~spin) DeepSeek');
    assert.equal(statusView('ready').text, '$(sparkle) DeepSeek');
  });

  it('puts the server message in the tooltip and accessible label', () => {
    const view = statusView('error', 'Invalid API key (HTTP 401)');
    assert.match(view.tooltip, /Invalid API key \(HTTP 401\)/);
    assert.equal(view.ariaLabel, 'DeepSeek FIM error: Invalid API key (HTTP 401)');
    assert.equal(view.background, 'statusBarItem.errorBackground');
  });

  it('falls back to a default message and colors only problems', () => {
    assert.match(statusView('disabled', '  ').tooltip, /turned off/);
    assert.equal(statusView('ready').background, undefined);
    assert.equal(statusView('busy').background, undefined);
    assert.equal(statusView('disabled').background, 'statusBarItem.warningBackground');
  });
});

describe('appliesTo', () => {
  const status = { state: 'busy' as const, message: '', uri: 'file:///a.py' };
  it('shows statuses about the active document or about no document', () => {
    assert.equal(appliesTo(status, 'file:///a.py'), true);
    assert.equal(appliesTo({ ...status, uri: null }, 'file:///b.py'), true);
    assert.equal(appliesTo(status, undefined), true);
  });
  it('ignores statuses about another document', () => {
    assert.equal(appliesTo(status, 'file:///b.py'), false);
  });
});
