// Equal values that many subscriptions hold (their variables, the records they watch) kept once, for as long as one does.
export class Interner<T extends object> {
  private readonly byKey = new Map<string, WeakRef<T>>();
  private readonly forget = new FinalizationRegistry<string>((key) => {
    if (!this.byKey.get(key)?.deref()) this.byKey.delete(key);
  });

  /** The value held under `key`, if one still is. */
  get(key: string): T | undefined {
    return this.byKey.get(key)?.deref();
  }

  /** Holds `value` under `key` from now on, and returns it. */
  keep(key: string, value: T): T {
    this.byKey.set(key, new WeakRef(value));
    this.forget.register(value, key);
    return value;
  }
}
