import { registerFunction } from '../../shared/http/entry';
import { users } from './routes';

export const warmUp = registerFunction(users);
