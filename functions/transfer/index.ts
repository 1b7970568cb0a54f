import { registerFunction } from '../../shared/http/entry';
import { transfer } from './routes';

export const warmUp = registerFunction(transfer);
