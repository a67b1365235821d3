import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { appliesTo, parseStatus, ReadyTrigger, SELF_TRIGGER_WINDOW_MS, SERVED_SCHEMES, statusView } from '../../src/status';

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

describe('ReadyTrigger', () => {
  const ready = { state: 'ready' as const, message: 'ready (deepseek-v4-flash)', uri: null };
  const busy = { state: 'busy' as const, message: '', uri: 'file:///a.py' };

  it('triggers on the first ready of a server start only', () => {
    const t = new ReadyTrigger();
    assert.equal(t.onStatus(busy, 0, true), false);
    assert.equal(t.onStatus(ready, 10, true), true);
    // `ready` follows every answer: those must not trigger again.
    assert.equal(t.onStatus(busy, 20, true), false);
    assert.equal(t.onStatus(ready, 30, true), false);
  });

  it('triggers again after a restart', () => {
    const t = new ReadyTrigger();
    assert.equal(t.onStatus(ready, 0, true), true);
    t.reset();
    assert.equal(t.onStatus(ready, 5000, true), true);
  });

  it('does not trigger without a served editor, nor later in that server\'s life', () => {
    const t = new ReadyTrigger();
    assert.equal(t.onStatus(ready, 0, false), false);
    assert.equal(t.onStatus(ready, 100, true), false);
    assert.equal(t.takeSelfTriggered(150), false);
  });

  it('claims the invoked request it caused once, and only soon after', () => {
    const t = new ReadyTrigger();
    assert.equal(t.takeSelfTriggered(0), false);
    t.onStatus(ready, 1000, true);
    assert.equal(t.takeSelfTriggered(1000 + SELF_TRIGGER_WINDOW_MS), true);
    // The user's own explicit request afterwards stays explicit.
    assert.equal(t.takeSelfTriggered(1000 + SELF_TRIGGER_WINDOW_MS + 10), false);

    const late = new ReadyTrigger();
    late.onStatus(ready, 0, true);
    assert.equal(late.takeSelfTriggered(SELF_TRIGGER_WINDOW_MS + 1), false);
  });
});

describe('SERVED_SCHEMES', () => {
  it('are files and untitled buffers', () => {
    assert.deepEqual([...SERVED_SCHEMES], ['file', 'untitled']);
  });
});
