import { MemoryWebhookStore } from '../../src/stores/webhooks-memory.ts';
import { webhookStoreConformance } from '../support/webhook-store-conformance.ts';

webhookStoreConformance('memory', async () => {
  const store = new MemoryWebhookStore();
  return { store, cleanup: () => store.close() };
});
