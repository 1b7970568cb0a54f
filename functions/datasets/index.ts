import { registerFunction } from '../../shared/http/entry';
import { datasets } from './routes';

export const warmUp = registerFunction(datasets);
