// cli/commands/permissions.ts: what an installed app may do (docs/apps.md "Grants"; docs/cli.md
// "Permissions"): `cairn permissions APP` shows requested against granted, `cairn grant APP PERM`
// and `cairn revoke APP PERM` change them, `cairn audit [APP]` prints the checked audit trail.
// Each parses, calls one function of apps/, and prints.
import { appPermissions, auditTrail, grantPermission, revokePermission, type GrantChange } from '../../apps/index.js';
import { scoped, storeRoot, type ScopeOpts } from '../scope.js';
import type { CommandModule } from './types.js';

function changeLines(change: GrantChange, verb: 'granted' | 'revoked'): string[] {
  const lines = change.events.length === 0
    ? [`${change.app}: nothing to change (${verb === 'granted' ? 'already granted' : 'not granted'})`]
    : change.events.map((e) => `${verb} ${e.permission} to ${change.app} (${change.remote})${e.requested ? '' : ' (NOT requested by the app)'}`);
  return [...lines, `granted now: ${change.granted.length === 0 ? 'nothing' : change.granted.join(', ')}`, 'a change applies when the app next starts'];
}

export const permissionsCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('permissions').description('what an installed app requests, and what you granted it')
      .argument('<app>', 'the app (an installed package)'))
      .action(async (app: string, opts: ScopeOpts) => {
        const p = await appPermissions(storeRoot(opts), app);
        const lines = p.permissions.length === 0
          ? [`${p.app} ${p.version} (${p.remote}) requests no permission: it runs with nothing allowed`]
          : [`${p.app} ${p.version} (${p.remote}):`, ...p.permissions.map((s) => `  ${s.granted ? 'granted    ' : 'not granted'}  ${s.permission}${s.requested ? '' : ' (not requested)'}: ${s.description}`)];
        context.output().result(p, lines);
      });
  },
};

export const grantCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('grant').description('allow an app a permission it requests (network, folder and device grant every one of that family it requests)')
      .argument('<app>', 'the app')
      .argument('<permission>', 'a permission of the vocabulary (docs/packages.md "Permissions"), or network, folder, device')
      .option('--unrequested', 'grant a permission the app does not request (you are widening what its publisher asked for)', false))
      .action(async (app: string, permission: string, opts: ScopeOpts & { unrequested: boolean }) => {
        const out = context.output();
        const change = await grantPermission(storeRoot(opts), app, permission, { unrequested: opts.unrequested });
        for (const e of change.events) if (!e.requested) out.warn(`WARNING: ${app} never asked for ${e.permission}; it is granted because you passed --unrequested`);
        out.result(change, changeLines(change, 'granted'));
      });
  },
};

export const revokeCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('revoke').description('take back a permission granted to an app (network, folder and device revoke every one of that family)')
      .argument('<app>', 'the app')
      .argument('<permission>', 'a granted permission, or network, folder, device')
      .option('--restart', 'the app is running: revoke anyway and stop it, so that the revocation applies at its next start', false))
      .action(async (app: string, permission: string, opts: ScopeOpts & { restart: boolean }) => {
        const change = await revokePermission(storeRoot(opts), app, permission, { restart: opts.restart });
        context.output().result(change, [...changeLines(change, 'revoked'), ...(change.stopped ? [`${app} was running: it was stopped; start it again with cairn run ${app}`] : [])]);
      });
  },
};

export const auditCommand: CommandModule = {
  register(program, context) {
    scoped(program.command('audit').description('the audit trail of grants and revocations, checked whole (who, what, when)')
      .argument('[app]', 'only this app\'s events'))
      .action((app: string | undefined, opts: ScopeOpts) => {
        const events = auditTrail(storeRoot(opts), app);
        context.output().result(events, events.length === 0 ? 'no grant or revocation yet' : events.map((e) => `${e.sequence}\t${e.at}\t${e.actor}\t${e.action}\t${e.app} (${e.remote})\t${e.permission}${e.requested ? '' : '\t(not requested)'}`));
      });
  },
};
