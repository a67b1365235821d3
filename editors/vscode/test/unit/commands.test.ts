import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { explanationToShow, needsInstruction, withInstruction } from '../../src/commands';

const range = { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } };

describe('needsInstruction', () => {
  it('asks when the rewrite code action carries no instruction', () => {
    assert.equal(needsInstruction('deepseekFim.rewrite', ['file:///a.py', range]), true);
    assert.equal(needsInstruction('deepseekFim.rewrite', ['file:///a.py', range, '  ']), true);
    assert.equal(needsInstruction('deepseekFim.rewrite', ['file:///a.py', range, null]), true);
  });

  it('does not ask when there is one, or for other commands', () => {
    assert.equal(needsInstruction('deepseekFim.rewrite', ['file:///a.py', range, 'use f-strings']), false);
    assert.equal(needsInstruction('deepseekFim.explain', ['file:///a.py', range]), false);
    assert.equal(needsInstruction('deepseekFim.document', ['file:///a.py', range]), false);
  });
});

describe('withInstruction', () => {
  it('puts the trimmed instruction third', () => {
    assert.deepEqual(withInstruction(['u', range], ' shorter\n'), ['u', range, 'shorter']);
    assert.deepEqual(withInstruction(['u', range, ''], 'x'), ['u', range, 'x']);
  });
});

describe('explanationToShow', () => {
  it('shows text the server did not already open', () => {
    assert.equal(explanationToShow('# Explanation', ['other']), '# Explanation');
  });
  it('skips text already visible, ignoring line endings, and empty results', () => {
    assert.equal(explanationToShow('a\r\nb', ['a\nb']), undefined);
    assert.equal(explanationToShow('', []), undefined);
    assert.equal(explanationToShow(null, []), undefined);
    assert.equal(explanationToShow({ applied: true }, []), undefined);
  });
});
