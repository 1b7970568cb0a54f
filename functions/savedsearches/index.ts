import { registerFunction } from '../../shared/http/entry';
import { savedsearches } from './routes';

registerFunction(savedsearches);
