import { registerFunction } from '../../shared/http/entry';
import { annotations } from './routes';

export const warmUp = registerFunction(annotations);
