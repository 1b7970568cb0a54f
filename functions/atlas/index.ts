import { registerFunction } from '../../shared/http/entry';
import { atlas } from './routes';

export const warmUp = registerFunction(atlas);
