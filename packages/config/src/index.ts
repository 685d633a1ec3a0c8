export {
  type ConfigTableRow,
  configTable,
  describeConfig,
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
  startupConfig,
} from './load.ts';
export {
  APPS,
  type AppConfig,
  type AppName,
  type ExtractionMode,
  type ValidUntilRounding,
  type WorkerTuning,
  workerTuningDefaults,
} from './schema.ts';
export { DESCRIPTION_TEMPLATE_FIELDS, LOG_LEVELS, type LogLevel } from './values.ts';
