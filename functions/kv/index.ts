import { registerFunction } from '../../shared/http/entry';
import { kv } from './routes';

registerFunction(kv);
