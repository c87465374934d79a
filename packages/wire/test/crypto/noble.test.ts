// The CryptoSuite contract (contract.ts) run against nobleCrypto: @noble/*, portable.
// Normative text: spec/04-crypto.md.
import { nobleCrypto } from '../../src/crypto/index.js';
import { cryptoSuiteContract } from './contract.js';

cryptoSuiteContract(nobleCrypto);
