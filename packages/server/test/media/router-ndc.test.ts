import { createMediaRouter } from '../../src/media/index.js';
import { runMediaRouterContract } from './router.contract.js';

runMediaRouterContract('node-datachannel workers', () => createMediaRouter({ workers: 2, bindAddress: '127.0.0.1' }));
