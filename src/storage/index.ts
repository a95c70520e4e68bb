export * from './relational/index.js';
