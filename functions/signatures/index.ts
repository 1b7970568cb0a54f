import { registerFunction } from '../../shared/http/entry';
import { signatures } from './routes';

registerFunction(signatures);
