import { registerFunction } from '../../shared/http/entry';
import { server } from './routes';

registerFunction(server);
