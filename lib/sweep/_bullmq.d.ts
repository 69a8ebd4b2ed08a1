// Internal: the slice of BullMQ's API that lib/sweep/queue.ts uses. BullMQ's own declarations
// pull in ioredis's, which reference @types/node and would replace Deno's Node types in every
// module checked beside them; these few lines stand in for them.

export interface ConnectionOptions {
  host: string;
  port: number;
  db?: number;
  maxRetriesPerRequest?: number | null;
}

export interface JobsOptions {
  jobId?: string;
  removeOnComplete?: boolean;
  removeOnFail?: boolean;
}

export declare class Job<Data = unknown, Result = unknown> {
  id?: string;
  name: string;
  data: Data;
  returnvalue: Result;
  waitUntilFinished(events: QueueEvents, ttl?: number): Promise<Result>;
}

export declare class Queue<Data = unknown, Result = unknown> {
  constructor(name: string, options: { connection: ConnectionOptions });
  add(name: string, data: Data, options?: JobsOptions): Promise<Job<Data, Result>>;
  close(): Promise<void>;
}

export declare class QueueEvents {
  constructor(name: string, options: { connection: ConnectionOptions });
  waitUntilReady(): Promise<unknown>;
  close(): Promise<void>;
}

export interface WorkerOptions {
  connection: ConnectionOptions;
  concurrency?: number;
  lockDuration?: number;
  stalledInterval?: number;
  maxStalledCount?: number;
}

export declare class Worker<Data = unknown, Result = unknown> {
  constructor(
    name: string,
    processor: (job: Job<Data, Result>) => Promise<Result>,
    options: WorkerOptions,
  );
  waitUntilReady(): Promise<unknown>;
  close(force?: boolean): Promise<void>;
}
