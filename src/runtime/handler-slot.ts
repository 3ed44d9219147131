/**
 * A wake handler owned by generation (seed 000). `install` returns a disposer bound to
 * the generation it installed; a stale disposer — from a runner that a reload already
 * replaced — is a no-op and can never clear a newer handler. Calls that arrive while no
 * handler is installed are queued (bounded), not dropped, and replayed on install.
 */
export class HandlerSlot<A> {
  private generation = 0;
  private handler: ((arg: A) => void) | undefined;
  private readonly queue: A[] = [];

  constructor(private readonly maxQueued = 10_000) {}

  get currentGeneration(): number {
    return this.generation;
  }

  get installed(): boolean {
    return this.handler !== undefined;
  }

  get queued(): number {
    return this.queue.length;
  }

  install(handler: (arg: A) => void): () => void {
    const generation = ++this.generation;
    this.handler = handler;
    const waiting = this.queue.splice(0, this.queue.length);
    for (const arg of waiting) handler(arg);
    return () => {
      if (this.generation === generation) this.handler = undefined;
    };
  }

  /** Returns false only when the queue is full (the caller reports it; nothing is dropped silently). */
  call(arg: A): boolean {
    if (this.handler) {
      this.handler(arg);
      return true;
    }
    if (this.queue.length >= this.maxQueued) return false;
    this.queue.push(arg);
    return true;
  }

  clearQueue(): void {
    this.queue.length = 0;
  }
}
