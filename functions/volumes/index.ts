import { registerFunction } from '../../shared/http/entry';
import { volumes } from './routes';

registerFunction(volumes);
