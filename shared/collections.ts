/**
 * Every Firestore collection the service touches, named exactly as the original clio-store
 * named them so that an existing database works unchanged.
 */
export const COLLECTIONS = {
  users: 'clio_users',
  datasets: 'clio_datasets',
  /** `clio_annotations_v2/{dataset}/{email}/{key}` (point, line and sphere annotations). */
  annotationsV2: 'clio_annotations_v2',
  /** Parent of `ATLAS/annotations` and the v1 `USER/annotations`. */
  annotations: 'clio_annotations',
  /** `clio_savedsearches/USER/searches`. */
  savedSearches: 'clio_savedsearches',
  /** `clio_keyvalue/{email}/{scope}/{key}`. */
  keyValues: 'clio_keyvalue',
  /** `clio_pull_requests/{email}/{scope}/{key}`. */
  pullRequests: 'clio_pull_requests',
  /** `clio_site_reports/{email}-{YYYY-MM-DD}`. */
  siteReports: 'clio_site_reports',
  volumes: 'clio_volumes',
  /** `clio_annotations_global/metadata` holds neuron-annotation version tags. */
  annotationsGlobal: 'clio_annotations_global',
  /** Ours: `clio_neurons/{dataset}/bodies/{id20}` and `.../changes/{id20}.{seq10}`, the Firestore-native neuron store. */
  neurons: 'clio_neurons',
} as const;
