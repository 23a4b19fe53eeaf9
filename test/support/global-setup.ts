import type { TestProject } from 'vitest/node';
import { redisForTests } from './redis.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/**
 * Starts the real servers the integration tests share. Each test uses its own key prefix
 * (or its own server when it must kill one), so tests never see each other's data.
 */
export default async function setup(project: TestProject) {
  const redis = await redisForTests();
  project.provide('redisUrl', redis.url);
  return async () => {
    await redis.stop();
  };
}
