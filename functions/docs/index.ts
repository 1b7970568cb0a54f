import { registerFunction } from '../../shared/http/entry';
import { docs } from './routes';

registerFunction(docs);
