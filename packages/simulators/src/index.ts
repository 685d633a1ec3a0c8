export * from './opencti/index.ts';
export * from './scenario/index.ts';
export * from './sekoia/index.ts';
