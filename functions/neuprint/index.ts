import { registerFunction } from '../../shared/http/entry';
import { neuprint } from './routes';

registerFunction(neuprint);
