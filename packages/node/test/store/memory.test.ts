import { MemoryNodeStore } from '../../src/store/index.js';
import { nodeStoreContract } from './contract.js';

nodeStoreContract('memory', () => new MemoryNodeStore());
