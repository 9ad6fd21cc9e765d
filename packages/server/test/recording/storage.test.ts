import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalArchiveStorage } from '../../src/recording/storage.js';
import { archiveStorageContract } from './storage.contract.js';

archiveStorageContract('local directory', async () => createLocalArchiveStorage(mkdtempSync(join(tmpdir(), 'tokhost-archives-'))));
