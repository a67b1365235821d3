import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { formatPercent, formatStats, formatUsd, parseStats } from '../../src/stats';

const totals = {
  requests: 1234,
  suggestionsShown: 40,
  accepted: 10,
  acceptanceRate: 0.25,
  cacheHitTokens: 9000,
  cacheMissTokens: 1000,
  completionTokens: 512,
  cacheHitRatio: 0.9,
  costUsd: 0.00123,
  typeThroughHits: 3,
  cacheHits: 7,
};

describe('formatStats', () => {
  it('summarises today, the session and the model', () => {
    const text = formatStats(
      parseStats({
        session: { ...totals, requests: 5, costUsd: 1.5 },
        today: totals,
        model: 'deepseek-v4-flash',
        modelAvailable: true,
        lastError: null,
        enabled: true,
      }),
    );
    const lines = text.split('\n');
    assert.equal(lines[0], 'Completions on · model deepseek-v4-flash (available)');
    assert.equal(lines[1], 'Today: 1,234 requests, 10 of 40 suggestions accepted (25%)');
    assert.equal(lines[2], '  tokens: 10,000 in (90% cache hits), 512 out; cost $0.0012');
    assert.equal(lines[3], '  answered locally: 7 cache hits, 3 type-through');
    assert.match(lines[4], /^This session: 5 requests/);
    assert.match(text, /cost \$1\.50/);
    assert.doesNotMatch(text, /Last error/);
  });

  it('shows the last error, a disabled state and an unavailable model', () => {
    const text = formatStats(
      parseStats({
        session: totals,
        today: totals,
        model: 'm',
        modelAvailable: false,
        lastError: 'Insufficient balance (HTTP 402)',
        enabled: false,
      }),
    );
    assert.match(text, /^Completions off · model m \(NOT available\)/);
    assert.match(text, /\nLast error: Insufficient balance \(HTTP 402\)$/);
  });

  it('tolerates a partial payload', () => {
    const text = formatStats(parseStats({ model: 'x' }));
    assert.match(text, /Today: 0 requests, 0 of 0 suggestions accepted \(0%\)/);
    assert.match(text, /cost \$0\b/);
  });
});

describe('number formats', () => {
  it('formats money and ratios', () => {
    assert.equal(formatUsd(0), '$0');
    assert.equal(formatUsd(0.5), '$0.50');
    assert.equal(formatUsd(0.00004), '$0.0000');
    assert.equal(formatPercent(0.333), '33%');
    assert.equal(formatPercent(1), '100%');
  });
});
