// The supernode's test world lives in src/testing (exported as @parley/supernode/testing, for the node's
// and the harness's tests too); the supernode's tests import it from here.
export * from '../src/testing/index.js';
