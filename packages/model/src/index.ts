export * from './attributes.ts';
export * from './description.ts';
export * from './job.ts';
export * from './normalize.ts';
export * from './validate-job.ts';
