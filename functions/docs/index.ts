import { registerFunction } from '../../shared/http/entry';
import { docs } from './routes';

export const warmUp = registerFunction(docs);
