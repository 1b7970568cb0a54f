/**
 * The role predicates of the original clio-store (upstream-api section 2.4), in one place.
 * Global `admin` manages users and datasets but does not by itself grant access to dataset data;
 * a public dataset makes every signed-in user a reader and own-writer.
 * DatasetGateway callers bring a second roles map that ignores pending terms of service; it is one
 * more input to the same predicates (empty for everyone else), used only by `canReadIgnoreTos`.
 */
import type { DsgProfile } from './dsg';
import type { UserRecord } from './users';

/** How a caller was identified (logged with each request, never the token itself). */
export type AuthKind = 'flyem' | 'google' | 'test_user' | 'dsg' | 'none';

/** What DSG says of a caller beyond their user record, and their key, kept for forwarding (never serialised). */
export interface DsgCaller extends Omit<DsgProfile, 'user'> {
  readonly token: string;
}

const READ_ROLES = ['clio_read', 'clio_general', 'clio_write'];
const OWN_WRITE_ROLES = ['clio_general', 'clio_write'];

export class Caller {
  readonly user: UserRecord;
  readonly via: AuthKind;
  /** Claims of the Google ID token used for this request, or null for other tokens. */
  readonly googleIdinfo: Record<string, unknown> | null;
  /** Set for callers identified by the DatasetGateway. */
  readonly dsg: DsgCaller | undefined;
  private readonly publicDatasets: ReadonlySet<string>;

  constructor(
    user: UserRecord,
    publicDatasets: ReadonlySet<string>,
    identity: { via: AuthKind; googleIdinfo?: Record<string, unknown> | null; dsg?: DsgCaller },
  ) {
    this.user = user;
    this.publicDatasets = publicDatasets;
    this.via = identity.via;
    this.googleIdinfo = identity.googleIdinfo ?? null;
    this.dsg = identity.dsg;
  }

  /** The identity of unauthenticated routes: no e-mail and no roles. */
  static anonymous(): Caller {
    return new Caller({ email: '', name: null, org: null, disabled: false, global_roles: [], datasets: {}, groups: [] }, new Set(), { via: 'none' });
  }

  get email(): string {
    return this.user.email;
  }

  isPublic(dataset: string): boolean {
    return this.publicDatasets.has(dataset);
  }

  isAdmin(): boolean {
    return this.user.global_roles.includes('admin');
  }

  /** `role` globally, on `dataset`, or `clio_general` on a public dataset. */
  hasRole(role: string, dataset = ''): boolean {
    if (this.user.global_roles.includes(role)) return true;
    if (dataset !== '' && this.datasetRoles(dataset).includes(role)) return true;
    return role === 'clio_general' && this.isPublic(dataset);
  }

  canRead(dataset: string): boolean {
    return this.globalOrPublic(dataset) || hasAny(this.user.datasets, dataset, READ_ROLES);
  }

  /** `canRead`, or a reading grant that waits only for the user to accept terms of service (dataset lists). */
  canReadIgnoreTos(dataset: string): boolean {
    return this.canRead(dataset) || (this.dsg !== undefined && hasAny(this.dsg.datasetsIgnoreTos, dataset, READ_ROLES));
  }

  canWriteOwn(dataset: string): boolean {
    return this.globalOrPublic(dataset) || hasAny(this.user.datasets, dataset, OWN_WRITE_ROLES);
  }

  canWriteOthers(dataset: string): boolean {
    return this.user.global_roles.includes('clio_write') || this.datasetRoles(dataset).includes('clio_write');
  }

  isDatasetAdmin(dataset: string): boolean {
    return this.isAdmin() || this.datasetRoles(dataset).includes('dataset_admin');
  }

  private globalOrPublic(dataset: string): boolean {
    return this.user.global_roles.includes('clio_general') || this.isPublic(dataset);
  }

  private datasetRoles(dataset: string): readonly string[] {
    return rolesOn(this.user.datasets, dataset);
  }
}

function rolesOn(datasets: Readonly<Record<string, readonly string[]>>, dataset: string): readonly string[] {
  return Object.hasOwn(datasets, dataset) ? datasets[dataset] : [];
}

function hasAny(datasets: Readonly<Record<string, readonly string[]>>, dataset: string, roles: readonly string[]): boolean {
  return rolesOn(datasets, dataset).some((role) => roles.includes(role));
}
