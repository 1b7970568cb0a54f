import { registerFunction } from '../../shared/http/entry';
import { annotations } from './routes';

registerFunction(annotations);
