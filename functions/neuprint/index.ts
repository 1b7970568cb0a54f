import { registerFunction } from '../../shared/http/entry';
import { neuprint } from './routes';

export const warmUp = registerFunction(neuprint);
