/** An entry of a MinHeap: ordered by (due, seq). */
export interface HeapEntry {
  due: number;
  /** Insertion order: entries due at the same time come out in the order they were added. */
  seq: number;
  /** Position in the heap array, -1 when not in it (so removal is O(log n), never a scan). */
  pos: number;
}

/**
 * A binary min-heap of entries by (due, seq) with removal and re-keying by position. The
 * caller sets `seq`. Shared by the runtime's timer heap, the simulator's clock and the
 * benchmark's discrete-event clock, so all three order equal due times the same way.
 */
export class MinHeap<E extends HeapEntry> {
  private readonly heap: E[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): E | undefined {
    return this.heap[0];
  }

  push(entry: E): void {
    entry.pos = this.heap.length;
    this.heap.push(entry);
    this.up(entry.pos);
  }

  /** The earliest entry, removed. */
  pop(): E | undefined {
    const top = this.heap[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Remove an entry (no-op when it is not in the heap). */
  remove(entry: E): void {
    const i = entry.pos;
    if (i < 0 || this.heap[i] !== entry) return;
    const last = this.heap.pop()!;
    entry.pos = -1;
    if (last === entry) return;
    this.heap[i] = last;
    last.pos = i;
    this.down(i);
    this.up(last.pos);
  }

  /** Move an entry to a new due time (keeps its seq). */
  update(entry: E, due: number): void {
    if (entry.pos < 0) return;
    const earlier = due < entry.due;
    entry.due = due;
    if (earlier) this.up(entry.pos);
    else this.down(entry.pos);
  }

  clear(): void {
    for (const e of this.heap) e.pos = -1;
    this.heap.length = 0;
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!less(e, parent)) break;
      h[i] = parent;
      parent.pos = i;
      i = p;
    }
    h[i] = e;
    e.pos = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && less(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!less(child, e)) break;
      h[i] = child;
      child.pos = i;
      i = c;
    }
    h[i] = e;
    e.pos = i;
  }
}

const less = (a: HeapEntry, b: HeapEntry): boolean => a.due < b.due || (a.due === b.due && a.seq < b.seq);
