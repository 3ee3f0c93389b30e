export * from './meter-id.js';
export * from './meter-status.js';
export * from './namespaces.js';
export * from './result.js';
export * from './states.js';
export * from './status-query.js';
