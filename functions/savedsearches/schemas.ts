import * as v from 'valibot';
import { documentId, jsonObject } from '../../shared/http/validate';

export const DatasetParams = v.object({ dataset: documentId('dataset id') });

/** Any JSON object (the web app sends `{"note": ...}`). */
export const SavedSearchBody = jsonObject;
