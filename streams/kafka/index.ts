/**
 * The Kafka adapter: the only place that imports kafkajs. Swapping the client library means
 * rewriting this folder and nothing else.
 */
export { createKafkaClient, parseBrokers, silentLogger, type KafkaClientOptions, type KafkaLogger } from './client.ts';
export {
  createKafkaIngest,
  type BatchContext,
  type BatchHandler,
  type DecodeResult,
  type KafkaIngest,
  type KafkaIngestOptions,
  type KafkaIngestStatus,
} from './consumer.ts';
export { FatalIngestError, RetriableIngestError, isFatal } from './errors.ts';
export { kafkaMetrics, type KafkaMetrics } from './metrics.ts';
export { createKafkaProducer, type DeadLetter, type KafkaProducer, type KafkaProducerOptions, type PingRecord } from './producer.ts';
export { createPingIngest, type BatchEvent, type PingBatchProcessor, type PingIngestOptions } from './ingest.ts';
export { createKafkaRuntime, type KafkaRuntime, type KafkaRuntimeOptions } from './runtime.ts';
