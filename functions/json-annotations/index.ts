import { registerFunction } from '../../shared/http/entry';
import { jsonAnnotations } from './routes';

export const warmUp = registerFunction(jsonAnnotations);
