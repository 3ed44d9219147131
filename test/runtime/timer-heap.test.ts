import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemClock } from "../../src/runtime/clock.ts";
import { TimerHeap, type HeapEntry } from "../../src/runtime/timer-heap.ts";
import { useFakeTime } from "../support/fake-time.ts";

/** TimerHeap: many due times behind one clock timer, popped in (due, insertion) order. */

interface Item extends HeapEntry {
  readonly name: string;
}
const item = (name: string, due: number): Item => ({ name, due, seq: 0, pos: -1 });

beforeEach(() => useFakeTime());
afterEach(() => vi.useRealTimers());

function heapOf(): { heap: TimerHeap<Item>; fired: string[] } {
  const fired: string[] = [];
  const heap: TimerHeap<Item> = new TimerHeap<Item>(systemClock, () => {
    const now = performance.now();
    for (let e = heap.popDue(now); e; e = heap.popDue(now)) fired.push(e.name);
  });
  return { heap, fired };
}

describe("TimerHeap", () => {
  it("fires entries in due order, ties in insertion order, with one clock timer for all of them", async () => {
    const { heap, fired } = heapOf();
    const t = performance.now();
    for (const [name, at] of [["c", 30], ["a", 10], ["b1", 20], ["b2", 20], ["d", 40]] as const) heap.add(item(name, t + at));
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(20);
    expect(fired).toEqual(["a", "b1", "b2"]);
    await vi.advanceTimersByTimeAsync(100);
    expect(fired).toEqual(["a", "b1", "b2", "c", "d"]);
    expect(heap.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("an entry added earlier than the armed one re-arms the timer for it", async () => {
    const { heap, fired } = heapOf();
    const t = performance.now();
    heap.add(item("late", t + 1_000));
    heap.add(item("early", t + 5));
    await vi.advanceTimersByTimeAsync(5);
    expect(fired).toEqual(["early"]);
    expect(vi.getTimerCount()).toBe(1);
  });

  it("removes and reschedules by position; removing the last entry leaves no timer", async () => {
    const { heap, fired } = heapOf();
    const t = performance.now();
    const entries = Array.from({ length: 50 }, (_, i) => item(`e${i}`, t + 100 + i));
    for (const e of entries) heap.add(e);
    for (const e of entries.filter((_, i) => i % 2 === 1)) heap.remove(e);
    heap.remove(entries[1]!); // already removed: a no-op
    heap.reschedule(entries[48]!, t + 1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fired).toEqual(["e48"]);
    await vi.advanceTimersByTimeAsync(200);
    expect(fired.slice(1)).toEqual(entries.filter((_, i) => i % 2 === 0 && i !== 48).map((e) => e.name));
    const last = item("x", performance.now() + 10);
    heap.add(last);
    expect(vi.getTimerCount()).toBe(1);
    heap.remove(last);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("popDue never returns an entry added at or after the given sequence number", () => {
    const { heap } = heapOf();
    const now = performance.now();
    heap.add(item("old", now));
    const before = heap.nextSeq;
    heap.add(item("new", now));
    expect(heap.popDue(now, before)?.name).toBe("old");
    expect(heap.popDue(now, before)).toBeUndefined();
    expect(heap.popDue(now)?.name).toBe("new");
  });

  it("clear drops every entry and the timer", () => {
    const { heap } = heapOf();
    for (let i = 0; i < 10; i++) heap.add(item(`e${i}`, performance.now() + i));
    heap.clear();
    expect(heap.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
