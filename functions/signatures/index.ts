import { registerFunction } from '../../shared/http/entry';
import { signatures } from './routes';

export const warmUp = registerFunction(signatures);
