import { registerFunction } from '../../shared/http/entry';
import { datasets } from './routes';

registerFunction(datasets);
