import { registerFunction } from '../../shared/http/entry';
import { savedsearches } from './routes';

export const warmUp = registerFunction(savedsearches);
