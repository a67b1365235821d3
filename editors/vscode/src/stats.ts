/**
 * `deepseekFim/stats` payload → a readable summary for people. Pure, unit tested.
 */

export interface Totals {
  requests: number;
  suggestionsShown: number;
  accepted: number;
  acceptanceRate: number;
  cacheHitTokens: number;
  cacheMissTokens: number;
  completionTokens: number;
  cacheHitRatio: number;
  costUsd: number;
  typeThroughHits: number;
  cacheHits: number;
}

export interface Stats {
  session: Totals;
  today: Totals;
  model: string;
  modelAvailable: boolean | null;
  lastError: string | null;
  enabled: boolean;
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function totals(value: unknown): Totals {
  const t = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return {
    requests: num(t.requests),
    suggestionsShown: num(t.suggestionsShown),
    accepted: num(t.accepted),
    acceptanceRate: num(t.acceptanceRate),
    cacheHitTokens: num(t.cacheHitTokens),
    cacheMissTokens: num(t.cacheMissTokens),
    completionTokens: num(t.completionTokens),
    cacheHitRatio: num(t.cacheHitRatio),
    costUsd: num(t.costUsd),
    typeThroughHits: num(t.typeThroughHits),
    cacheHits: num(t.cacheHits),
  };
}

/** Tolerant parse: missing numbers count as 0 so a partial payload still shows something. */
export function parseStats(value: unknown): Stats {
  const s = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  return {
    session: totals(s.session),
    today: totals(s.today),
    model: typeof s.model === 'string' ? s.model : 'unknown',
    modelAvailable: typeof s.modelAvailable === 'boolean' ? s.modelAvailable : null,
    lastError: typeof s.lastError === 'string' && s.lastError ? s.lastError : null,
    enabled: s.enabled !== false,
  };
}

export function formatPercent(ratio: number): string {
  return `${(Math.max(0, ratio) * 100).toFixed(0)}%`;
}

export function formatUsd(value: number): string {
  if (value === 0) {
    return '$0';
  }
  return value < 0.01 ? `$${value.toFixed(4)}` : `$${value.toFixed(2)}`;
}

export function formatCount(value: number): string {
  return Math.round(value).toLocaleString('en-US');
}

function formatTotals(name: string, t: Totals): string[] {
  const input = t.cacheHitTokens + t.cacheMissTokens;
  return [
    `${name}: ${formatCount(t.requests)} requests, ${formatCount(t.accepted)} of ` +
      `${formatCount(t.suggestionsShown)} suggestions accepted (${formatPercent(t.acceptanceRate)})`,
    `  tokens: ${formatCount(input)} in (${formatPercent(t.cacheHitRatio)} cache hits), ` +
      `${formatCount(t.completionTokens)} out; cost ${formatUsd(t.costUsd)}`,
    `  answered locally: ${formatCount(t.cacheHits)} cache hits, ` +
      `${formatCount(t.typeThroughHits)} type-through`,
  ];
}

/** A few plain lines: state, model, today, session, last error. */
export function formatStats(stats: Stats): string {
  const availability =
    stats.modelAvailable === null ? '' : stats.modelAvailable ? ' (available)' : ' (NOT available)';
  const lines = [
    `Completions ${stats.enabled ? 'on' : 'off'} · model ${stats.model}${availability}`,
    ...formatTotals('Today', stats.today),
    ...formatTotals('This session', stats.session),
  ];
  if (stats.lastError) {
    lines.push(`Last error: ${stats.lastError}`);
  }
  return lines.join('\n');
}
