// cli/release-lines.ts: how the command line shows what the release pipeline did (src/release):
// one line per co-signing round, per logged block and per settled release.
import type { BlockReport, RoundReport, SettledRelease } from '../release/index.js';

export function roundLines(rounds: readonly RoundReport[]): string[] {
  return rounds.flatMap((r) => [
    `${r.what}: co-signed by ${r.cosigners.length} (${r.cosigners.join(', ')})${r.missing.length > 0 ? `; without ${r.missing.map((m) => `${m.name} (${m.code ?? m.status})`).join(', ')}` : ''}${r.attempts > 1 ? ` after ${r.attempts} attempts` : ''}`,
    ...Object.entries(r.notes ?? {}).flatMap(([name, said]) => said.map((n) => `  ${name}: ${n}`)),
  ]);
}

export function blockLines(report: BlockReport): string[] {
  return [
    `block ${report.index} ${report.hash} co-signed and logged`,
    ...roundLines(report.rounds),
    ...report.missingLinks.map((m) => `forward link ${m.fromIndex} level ${m.level} missing: ${m.reason}`),
  ];
}

export function settledLines(settled: SettledRelease): string[] {
  return [
    settled.how === 'reproposed' ? `saved block ${settled.index} ${settled.hash} proposed again, co-signed and logged` : `saved block ${settled.index} ${settled.hash} was logged already`,
    ...(settled.report ? roundLines(settled.report.rounds) : []),
    ...(settled.wroteRelease ? [`its saved release is published${settled.renewedTimestamp ? ' (timestamp signed again)' : ''}`] : []),
  ];
}
