/** The HTTP API suite (test/support/http-suite.ts) on the embedded memory store. */
import { describe } from 'vitest';
import { createMemoryStore } from '../../src/stores/memory.ts';
import { httpApiSuite, sseSuite, type StoreFactory } from '../support/http-suite.ts';

const memory: StoreFactory = async (clock) => {
  const store = createMemoryStore({ clock });
  return { store, cleanup: () => store.close() };
};

describe('HTTP API on the memory store', () => {
  httpApiSuite(memory);
  describe('SSE', () => sseSuite(memory));
});
