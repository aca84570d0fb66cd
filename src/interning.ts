// Equal values that many subscriptions hold (their variables, the records they watch) kept once, for as long as one does.
export class Interner<T extends object> {
  private readonly byKey = new Map<string, WeakRef<T>>();
  private readonly forget = new FinalizationRegistry<string>((key) => {
    if (!this.byKey.get(key)?.deref()) this.byKey.delete(key);
  });

  /** The value already held under `key`, or the one `make` returns, kept from now on. */
  intern(key: string, make: () => T): T {
    const held = this.byKey.get(key)?.deref();
    if (held) return held;
    const value = make();
    this.byKey.set(key, new WeakRef(value));
    this.forget.register(value, key);
    return value;
  }
}
