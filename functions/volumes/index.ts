import { registerFunction } from '../../shared/http/entry';
import { volumes } from './routes';

export const warmUp = registerFunction(volumes);
