/**
 * The role predicates of the original clio-store (upstream-api section 2.4), in one place.
 * Global `admin` manages users and datasets but does not by itself grant access to dataset data;
 * a public dataset makes every signed-in user a reader and own-writer.
 */
import type { UserRecord } from './users';

export class Caller {
  readonly user: UserRecord;
  /** Claims of the Google ID token used for this request, or null for other tokens. */
  readonly googleIdinfo: Record<string, unknown> | null;
  private readonly publicDatasets: ReadonlySet<string>;

  constructor(user: UserRecord, publicDatasets: ReadonlySet<string>, googleIdinfo: Record<string, unknown> | null = null) {
    this.user = user;
    this.publicDatasets = publicDatasets;
    this.googleIdinfo = googleIdinfo;
  }

  /** The identity of unauthenticated routes: no e-mail and no roles. */
  static anonymous(): Caller {
    return new Caller({ email: '', name: null, org: null, disabled: false, global_roles: [], datasets: {}, groups: [] }, new Set());
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
    return this.globalOrPublic(dataset) || this.hasAnyDatasetRole(dataset, ['clio_read', 'clio_general', 'clio_write']);
  }

  canWriteOwn(dataset: string): boolean {
    return this.globalOrPublic(dataset) || this.hasAnyDatasetRole(dataset, ['clio_general', 'clio_write']);
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

  private hasAnyDatasetRole(dataset: string, roles: readonly string[]): boolean {
    return this.datasetRoles(dataset).some((role) => roles.includes(role));
  }

  private datasetRoles(dataset: string): readonly string[] {
    return Object.hasOwn(this.user.datasets, dataset) ? this.user.datasets[dataset] : [];
  }
}
