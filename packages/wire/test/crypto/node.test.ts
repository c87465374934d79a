// The CryptoSuite contract (contract.ts) run against nodeCrypto: node:crypto / OpenSSL.
// Normative text: spec/04-crypto.md.
import { nodeCrypto } from '../../src/crypto/index.js';
import { cryptoSuiteContract } from './contract.js';

cryptoSuiteContract(nodeCrypto);
