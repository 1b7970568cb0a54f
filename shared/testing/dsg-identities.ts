/**
 * The harness's standard identities as DatasetGateway users, for the DSG stand-in: DSG has no
 * global clio roles, so `general` and `writer` hold grants on both standard datasets; `reader`
 * holds a grant on the private dataset whose terms of service it has not accepted (DSG has no
 * clio_read, so it is the TOS-gated identity); `disabled` is refused by DSG itself.
 */
import type { DsgStandInConfig, DsgStandInUser } from './dsg-test-server';
import { DS, type Identity, PUBLIC_DS, USERS } from './harness';

/** The general TOS of the private dataset. */
export const DS_TOS = { id: 1, name: 'Private test dataset terms', dataset: DS };

/** The key that stands for an identity at the stand-in (DSG keys are not JWTs). */
export const dsgKey = (identity: Identity) => `key-${identity}`;

/** The key of a standard e-mail, for the harness's `as`. */
export function dsgKeyFor(email: string): string {
  const identity = (Object.keys(USERS) as Identity[]).find((name) => USERS[name].email === email);
  if (!identity) throw new Error(`no standard identity has the e-mail ${email}`);
  return dsgKey(identity);
}

export function standardDsgConfig(): DsgStandInConfig {
  const user = (identity: Identity, fields: DsgStandInUser): [string, DsgStandInUser] => [USERS[identity].email, { keys: [dsgKey(identity)], ...fields }];
  return {
    tos: [DS_TOS],
    users: Object.fromEntries([
      user('reader', { name: 'Reader', grants: { [DS]: 'view' } }),
      user('dsGeneral', { name: 'DS General', grants: { [DS]: 'view' }, accepted_tos: [DS_TOS.id], groups: ['lab'] }),
      user('dsWriter', { name: 'DS Writer', grants: { [DS]: 'edit' }, accepted_tos: [DS_TOS.id], groups: ['lab', 'odd group/1'] }),
      user('general', { name: 'General', grants: { [DS]: 'view', [PUBLIC_DS]: 'view' }, accepted_tos: [DS_TOS.id] }),
      user('writer', { name: 'Writer', grants: { [DS]: 'edit', [PUBLIC_DS]: 'edit' }, accepted_tos: [DS_TOS.id] }),
      user('admin', { name: 'Admin', admin: true }),
      user('disabled', { name: 'Disabled', admin: true, disabled: true }),
      user('unknown', {}),
      user('owner', {}),
    ]),
  };
}
