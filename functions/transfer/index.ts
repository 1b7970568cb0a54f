import { registerFunction } from '../../shared/http/entry';
import { transfer } from './routes';

registerFunction(transfer);
