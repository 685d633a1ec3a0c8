export { configTable, describeConfig, redisEnv, secretsOf } from './describe.ts';
export {
  ConfigError,
  type ConfigProblem,
  configFilePath,
  loadConfig,
  loadRedisConfig,
  startupConfig,
} from './load.ts';
export { APPS, type AppConfig, type AppName, type WorkerTuning, workerTuningDefaults } from './schema.ts';
export { placeholderOf } from './values.ts';
