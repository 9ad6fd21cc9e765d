import { createMemoryStore } from '../../src/storage/memory.js';
import { storeContract } from './store.contract.js';

// The memory store keeps nothing across reopen, so the persistence case is skipped for it.
storeContract('memory', { open: () => createMemoryStore() });
