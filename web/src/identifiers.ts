// GitLab lists records in ascending key order: an integer id, or a composite key (URL-safe base64 of its values joined
// by a space) compared value by value. The page needs the order to place a record that enters a state on its page.

function keyValues(identifier: string): string[] {
  if (/^\d+$/.test(identifier)) return [identifier];
  try {
    return atob(identifier.replace(/-/g, '+').replace(/_/g, '/')).split(' ');
  } catch {
    return [identifier];
  }
}

function compareValues(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareIdentifiers(a: string, b: string): number {
  const left = keyValues(a);
  const right = keyValues(b);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const order = compareValues(left[i], right[i]);
    if (order !== 0) return order;
  }
  return left.length - right.length;
}

/** Whether GitLab's single-record verification takes it (integers only; composite keys are re-verified in bulk). */
export function isIntegerIdentifier(identifier: string): boolean {
  return /^\d+$/.test(identifier);
}
