/** In-memory TaskQueue and DeadLetterSink, for unit tests of the fan-out. Single process only. */
import type { DeadLetterSink, FanoutPageTask, TaskQueue } from '../../domain/ports.ts';

export class MemoryTaskQueue implements TaskQueue {
  readonly tasks: FanoutPageTask[] = [];
  async enqueue(task: FanoutPageTask): Promise<void> {
    this.tasks.push(structuredClone(task));
  }
  /** Removes and returns every queued task. */
  drain(): FanoutPageTask[] {
    return this.tasks.splice(0, this.tasks.length);
  }
}

export class MemoryDeadLetterSink implements DeadLetterSink {
  readonly messages: { body: string; reason: string }[] = [];
  async send(body: string, reason: string): Promise<void> {
    this.messages.push({ body, reason });
  }
}
