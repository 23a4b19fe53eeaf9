/**
 * Error types of the Kafka adapter. A retriable error means "the work is fine, the world
 * is not ready": the batch is held (its partition pauses), retried with backoff, and no
 * offset moves past it. A fatal error means retrying cannot help: the consumer stops
 * without committing the batch and reports it, so the process can exit and be restarted.
 */
export class RetriableIngestError extends Error {
  override readonly name = 'RetriableIngestError';
  readonly retriable = true;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export class FatalIngestError extends Error {
  override readonly name = 'FatalIngestError';
  readonly retriable = false;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * Classifies an error thrown while handling a batch. Only an explicit FatalIngestError
 * stops the consumer; everything else, store outages above all, is retried: holding a
 * partition is always safe, skipping work never is.
 */
export function isFatal(err: unknown): boolean {
  if (err instanceof FatalIngestError) return true;
  if (err instanceof RetriableIngestError) return false;
  return false;
}

/** Kafka errors that mean "this batch no longer belongs to us": drop it, do not commit. */
export function isRebalanceError(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const type = (err as { type?: unknown }).type;
  const name = (err as { name?: unknown }).name;
  return (
    type === 'REBALANCE_IN_PROGRESS' ||
    type === 'NOT_COORDINATOR_FOR_GROUP' ||
    type === 'ILLEGAL_GENERATION' ||
    type === 'UNKNOWN_MEMBER_ID' ||
    name === 'KafkaJSStaleTopicMetadataAssignment'
  );
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
