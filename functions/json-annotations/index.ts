import { registerFunction } from '../../shared/http/entry';
import { jsonAnnotations } from './routes';

registerFunction(jsonAnnotations);
