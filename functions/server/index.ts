import { registerFunction } from '../../shared/http/entry';
import { server } from './routes';

export const warmUp = registerFunction(server);
