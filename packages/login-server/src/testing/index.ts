/** Test helpers exported as `@parley/login-server/testing`. */
export * from './pg-cluster.js';
export * from './sim.js';
export * from './sqlite-plans.js';
