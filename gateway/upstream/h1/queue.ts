// A FIFO that dequeues in O(1) without Array#shift's copying once it grows long.

export class Fifo<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** Puts an item back in front, to be the next one out. */
  unshift(item: T): void {
    if (this.head > 0) this.items[--this.head] = item;
    else this.items.unshift(item);
  }

  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Takes one item out from anywhere; false if it was not queued. */
  remove(item: T): boolean {
    const at = this.items.indexOf(item, this.head);
    if (at === -1) return false;
    this.items.splice(at, 1);
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
    return true;
  }

  /** Empties the queue, returning what was in it in order. */
  drain(): T[] {
    const rest = this.items.slice(this.head) as T[];
    this.items = [];
    this.head = 0;
    return rest;
  }
}
