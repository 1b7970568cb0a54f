import { registerFunction } from '../../shared/http/entry';
import { atlas } from './routes';

registerFunction(atlas);
