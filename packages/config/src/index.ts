export {
  type ConfigTableRow,
  configTable,
  describeConfig,
  redisEnv,
  renderConfigTableMarkdown,
  renderConfigYmlSample,
  renderEnvExample,
  replaceConfigTable,
  secretsOf,
} from './describe.ts';
export {
  ConfigError,
  type ConfigProblem,
  configFilePath,
  invocationDir,
  type LoadOptions,
  loadConfig,
  loadRedisConfig,
  startupConfig,
} from './load.ts';
export {
  APPS,
  type AppConfig,
  type AppName,
  type WorkerTuning,
  workerTuningDefaults,
} from './schema.ts';
export { placeholderOf } from './values.ts';
