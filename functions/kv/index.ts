import { registerFunction } from '../../shared/http/entry';
import { kv } from './routes';

export const warmUp = registerFunction(kv);
