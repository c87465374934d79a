/** Test helpers exported as `@parley/login-server/testing`. */
export * from './crash.js';
export * from './pg-cluster.js';
export * from './sim.js';
export * from './sqlite-plans.js';
