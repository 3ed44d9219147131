import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MinHeap, type HeapEntry } from "../../src/runtime/min-heap.ts";

describe("MinHeap", () => {
  it("pops by (due, seq) whatever was pushed, removed or moved in between", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("push" as const), due: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant("update" as const), pick: fc.nat(), due: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant("pop" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const heap = new MinHeap<HeapEntry>();
        const model: HeapEntry[] = [];
        const order = (a: HeapEntry, b: HeapEntry) => a.due - b.due || a.seq - b.seq;
        let seq = 0;
        for (const o of ops) {
          if (o.kind === "push") {
            const e = { due: o.due, seq: seq++, pos: -1 };
            heap.push(e);
            model.push(e);
          } else if (o.kind === "pop") {
            model.sort(order);
            expect(heap.pop()).toBe(model.shift());
          } else if (model.length > 0) {
            const e = model[o.pick % model.length]!;
            if (o.kind === "remove") {
              heap.remove(e);
              model.splice(model.indexOf(e), 1);
              expect(e.pos).toBe(-1);
            } else heap.update(e, o.due);
          }
          expect(heap.size).toBe(model.length);
        }
        model.sort(order);
        for (const e of model) expect(heap.pop()).toBe(e);
        expect(heap.pop()).toBeUndefined();
      }),
      { seed: 20261127, numRuns: 300 },
    );
  });
});
