import { registerFunction } from '../../shared/http/entry';
import { users } from './routes';

registerFunction(users);
