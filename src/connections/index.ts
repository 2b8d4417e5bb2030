/** Connections: the API the CLI, the webserver and task templates (`conn`) use. */
export {
  addConnection,
  connectionEnvName,
  deleteConnection,
  getConnection,
  listConnections,
  maskSecret,
  requireConnection,
  validateConnId,
  type ConnectionInfo,
} from './service.js';
export {
  connectionToUri,
  parseConnectionEnvValue,
  parseConnectionUri,
  validateExtra,
  type ConnectionFields,
} from './uri.js';
